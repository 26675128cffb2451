#!/usr/bin/env bash
# make test-image: builds the three images with podman from Debian's packages only and
# runs a smoke test of docker-compose.yml with podman-compose:
#   up; create an agent; remember() through the published port; wait until embedded;
#   search_episodic_memory finds it by meaning; embed_query works inside Postgres;
#   down and up again; the data is still there; down (volumes removed).
# Installs podman, buildah, runc, debootstrap, the CNI dnsname plugin (Debian) and podman-compose 1.6.0 (PyPI,
# into .venv) when missing. The base image comes from debootstrap (cached as
# localhost/agent-memory-base:bookworm). Needs .secrets/ (make up). Must run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/podman-env.sh"
cd "$ROOT"

BASE=localhost/agent-memory-base:bookworm
PROJECT=${MEMORY_COMPOSE_PROJECT:-agent-memory-imagetest}
COMPOSE_VERSION=1.6.0
t_start=$(date +%s)
[ "$(id -u)" = 0 ] || die "make test-image needs root (podman, debootstrap)"
[ -s "$SECRETS/memory_operator_password" ] || die "no secrets: run make up (or scripts/secrets.sh) first"

# == tools ==
missing=()
# dnsname: service-name DNS on podman 4.3's CNI network backend
for p in podman buildah runc debootstrap golang-github-containernetworking-plugin-dnsname; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$("$VENV/bin/python" -m pip show podman-compose 2>/dev/null | sed -n 's/^Version: //p')" != "$COMPOSE_VERSION" ]; then
  log "installing podman-compose $COMPOSE_VERSION into .venv"
  "$VENV/bin/pip" install -q "podman-compose==$COMPOSE_VERSION"
fi
write_containers_conf
compose() { "$VENV/bin/podman-compose" -p "$PROJECT" -f "$ROOT/docker-compose.yml" "$@"; }

# == images ==
if ! podman image exists "$BASE"; then
  log "building the base image $BASE with debootstrap"
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$rootfs" -c . | podman import -q - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi
t_base=$(date +%s)
# pip inside the build: this machine's wheel folders and CA bundle, when it has them
# (torch's CPU build lies in a local folder here; HTTPS may go through a proxy).
pip_args=()
mounts=()
find_links=$("$VENV/bin/pip" config get global.find-links 2>/dev/null || true)
extra_index=$("$VENV/bin/pip" config get global.extra-index-url 2>/dev/null || true)
links=() indexes=()
for d in $find_links; do [ -d "$d" ] && mounts+=(-v "$d:$d:ro") && links+=("$d"); done
for u in $extra_index; do
  d=${u#file://}
  [ "$d" != "$u" ] && [ -d "$d" ] && mounts+=(-v "$(dirname "$d"):$(dirname "$d"):ro") && indexes+=("$u")
done
pip_args+=(--build-arg "PIP_FIND_LINKS=${links[*]}" --build-arg "PIP_EXTRA_INDEX_URL=${indexes[*]}")
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mounts+=(-v /etc/ssl/certs:/opt/host-certs:ro)
  pip_args+=(--build-arg PIP_CERT=/opt/host-certs/ca-certificates.crt)
fi
build() {  # build NAME DOCKERFILE [ARGS...]: output in var/containers/build-NAME.log
  local name=$1 file=$2
  shift 2
  log "building localhost/agent-memory-$name:latest"
  podman build --layers -f "$file" --build-arg "BASE_IMAGE=$BASE" "$@" \
    -t "localhost/agent-memory-$name:latest" . >"$VAR/containers/build-$name.log" 2>&1 \
    || { tail -30 "$VAR/containers/build-$name.log" >&2; die "building the $name image failed"; }
}
# The three builds wait mostly on downloads and unpacking: run them side by side.
build postgres Dockerfile.postgres &
pg_build=$!
build redis docker/Dockerfile.redis &
redis_build=$!
build daemon docker/Dockerfile.daemon "${pip_args[@]}" "${mounts[@]}"
wait "$pg_build" || die "the postgres image did not build"
wait "$redis_build" || die "the redis image did not build"
t_build=$(date +%s)

# == smoke test ==
work=$VAR/image-test
rm -rf "$work"
mkdir -p "$work"
chmod 700 "$work"
agent_pw=$(head -c 24 /dev/urandom | base64 | tr -d '/+=\n')
{
  printf '127.0.0.1:%s:*:memory_operator:%s\n' "$PGPORT_COMPOSE" "$(secret memory_operator_password)"
  printf '127.0.0.1:%s:*:agent_smoke:%s\n' "$PGPORT_COMPOSE" "$agent_pw"
} > "$work/pgpass"
chmod 600 "$work/pgpass"
export PGPASSFILE=$work/pgpass PGHOST=127.0.0.1 PGPORT=$PGPORT_COMPOSE PGDATABASE=agent_memory
export PGPORT_COMPOSE REDIS_PORT_COMPOSE BASE_IMAGE=$BASE
q() { psql -X -q -At -v ON_ERROR_STOP=1 -U "$@"; }

cleanup() {
  local rc=$?
  if [ $rc -ne 0 ]; then
    log "smoke test failed; the containers' last logs:"
    for c in postgres redis embed-daemon; do
      podman logs --tail 25 "${PROJECT}_${c}_1" 2>&1 | sed "s/^/  [$c] /" >&2 || true
    done
  fi
  compose down -v >/dev/null 2>&1 || true
  podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true
  exit $rc
}
trap cleanup EXIT
compose down -v >/dev/null 2>&1 || true
podman network rm -f "${PROJECT}_default" >/dev/null 2>&1 || true

wait_for() {  # wait_for SECONDS WHAT COMMAND...: polls until COMMAND succeeds
  local limit=$1 what=$2
  shift 2
  for _ in $(seq $((limit * 2))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "$what not ready after ${limit}s"
}
up() {
  compose up -d >/dev/null 2>&1 || { compose up -d; die "podman-compose up failed"; }
  # podman 4.3 runs no health checks and ignores depends_on conditions: poll.
  wait_for 180 "postgres" q memory_operator -c 'SELECT 1'
  wait_for 60 "redis" podman exec "${PROJECT}_redis_1" sh -c \
    'redis-cli -a "$(cat /run/agent-memory-secrets/redis_password)" --no-auth-warning ping | grep -q PONG'
}

log "smoke test: compose up (project $PROJECT, postgres on 127.0.0.1:$PGPORT_COMPOSE)"
up
t_up=$(date +%s)
psql -X -q -v ON_ERROR_STOP=1 -U memory_operator -v pw="$agent_pw" -o /dev/null <<'SQL'
SELECT format('CREATE ROLE agent_smoke LOGIN PASSWORD %L', :'pw') \gexec
SELECT memory.create_agent('SMOKE', 'agent_smoke');
SQL
episode=$(q agent_smoke -c "SELECT memory.remember('The deployment pipeline was moved to Kubernetes last spring.', tags => ARRAY['smoke'])")
log "remembered episode $episode; waiting until it is embedded"
embedded() {
  [ "$(q agent_smoke -c "SELECT count(*) FROM memory.search_episodic_memory('where do our services run now? container orchestration', k => 5, mode => 'vector') WHERE episode_id = '$episode' AND vector_score > 0")" = 1 ]
}
wait_for 300 "the embedding of the episode" embedded
dims=$(q agent_smoke -c "SELECT vector_dims(memory.embed_query('¿dónde se ejecutan los servicios?'))")
[ "$dims" = 384 ] || die "embed_query inside Postgres gave $dims dimensions"
log "found by meaning; embed_query inside Postgres gives $dims dimensions"
t_smoke=$(date +%s)

log "smoke test: down and up again"
compose down >/dev/null 2>&1
up
wait_for 60 "search after the restart" embedded
[ "$(q agent_smoke -c "SELECT count(*) FROM memory.episodes WHERE episode_id = '$episode'")" = 1 ] \
  || die "the episode is gone after down and up"
t_end=$(date +%s)
log "test-image passed: base $((t_base - t_start))s, builds $((t_build - t_base))s, first up $((t_up - t_build))s, smoke $((t_smoke - t_up))s, restart $((t_end - t_smoke))s, total $((t_end - t_start))s"
echo "test-image: 1 passed, 0 failed"
