# Docker secrets for a service that runs as an unprivileged user. Sourced, not executed.
# The mounted files in /run/secrets keep the host's owner and mode, which the service's
# user may not read; the entrypoint (root) copies them into a folder only that user can
# read, then drops to that user.
# shellcheck shell=bash
# copy_secrets USER DIR NAME...
copy_secrets() {
  local user=$1 dir=$2 name
  shift 2
  install -d -o "$user" -g "$(id -g "$user")" -m 0700 "$dir"
  for name in "$@"; do
    [ -s "/run/secrets/$name" ] || { echo "missing secret /run/secrets/$name" >&2; exit 1; }
    install -o "$user" -g "$(id -g "$user")" -m 0400 "/run/secrets/$name" "$dir/$name"
  done
}
