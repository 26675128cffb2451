# Podman settings for `make test-image` (scripts/test-image.sh). Sourced, not executed.
# podman 4.3 as Debian bookworm ships it needs runc (crun fails here), cgroupfs, a file
# events logger and default ulimits no higher than these; the settings go to a
# project-local file named by CONTAINERS_CONF, so the system's configuration is untouched.
# shellcheck shell=bash
write_containers_conf() {
  local dir=$VAR/containers
  mkdir -p "$dir"
  export CONTAINERS_CONF=$dir/containers.conf
  cat > "$CONTAINERS_CONF.new" <<'CONF'
# Written by scripts/test-image.sh; edits here are overwritten.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
  mv "$CONTAINERS_CONF.new" "$CONTAINERS_CONF"
}
