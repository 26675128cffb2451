#!/usr/bin/env bash
# Installs the Debian packages the project needs and builds pgvector 0.8.0 from
# Debian's (trixie) source package against PostgreSQL 15. Idempotent: does nothing
# when everything is already present. Must run as root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

PG_MAJOR=15
PGVECTOR_VERSION=0.8.0
PKGS=(
  "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" "postgresql-contrib"
  "postgresql-$PG_MAJOR-cron" "postgresql-plpython3-$PG_MAJOR" "postgresql-$PG_MAJOR-pgtap"
  libtap-parser-sourcehandler-pgtap-perl redis-server redis-tools dpkg-dev
  # prometheus: only its promtool, which checks monitoring/alerts.yml in make lint
  prometheus
  # the database gauges: custom queries over memory.health_metrics() (scripts/exporter.sh)
  prometheus-postgres-exporter
  python3 python3-venv python3-dev
  build-essential
  # the HA stack (make up-ha) and its soak in make test (make test-soak-ha)
  etcd-server etcd-client patroni python3-etcd
)
# Dockerfile.postgres runs this script too, for the database server's part only.
if [ "${MEMORY_SYSTEM_PROFILE:-}" = postgres-image ]; then
  PKGS=(
    "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
    "postgresql-$PG_MAJOR-cron" "postgresql-plpython3-$PG_MAJOR" "postgresql-$PG_MAJOR-pgtap"
    dpkg-dev build-essential ca-certificates
  )
fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

need_root() {
  if [ "$(id -u)" != 0 ]; then
    die "installing system packages needs root (missing: $*)"
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  need_root "${missing[@]}"
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # The Debian package would create and start its own 'main' cluster; the project runs
  # its own cluster, so keep the packaged one from being created.
  mkdir -p /etc/postgresql-common
  if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
    echo 'create_main_cluster = false' >> /etc/postgresql-common/createcluster.conf
  fi
  apt-get -o DPkg::Lock::Timeout=900 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The packaged Redis service is not used; the project starts its own on its own port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet redis-server 2>/dev/null; then
  systemctl disable --now redis-server >/dev/null 2>&1 || true
fi
# Nor is the packaged Prometheus server (the project needs only promtool), nor the
# packaged exporter on :9187 (scripts/exporter.sh runs one per stack on its own port),
# nor the packaged etcd and Patroni (scripts/ha.sh runs its own on its own ports).
for unit in prometheus prometheus-postgres-exporter etcd patroni; do
  if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  fi
done

PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
ext_dir=$("$PG_CONFIG" --sharedir)/extension
if [ -f "$ext_dir/vector--$PGVECTOR_VERSION.sql" ] && [ -f "$("$PG_CONFIG" --pkglibdir)/vector.so" ]; then
  exit 0
fi

need_root pgvector
log "building pgvector $PGVECTOR_VERSION from Debian's source package"
# Source entries only: no binary package can ever come from trixie through this file.
src_list=/etc/apt/sources.list.d/agent-memory-trixie-src.sources
if [ ! -f "$src_list" ]; then
  cat > "$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  apt-get update -qq
fi
build=$(mktemp -d)
chmod 755 "$build"  # lets apt's sandbox user write the download
trap 'rm -rf "$build"' EXIT
(
  cd "$build"
  apt-get source -qq --download-only "pgvector=$PGVECTOR_VERSION-*" >/dev/null 2>&1 \
    || apt-get source -qq --download-only pgvector >/dev/null
  dpkg-source -x ./pgvector_*.dsc src >/dev/null
  cd src
  grep -q "default_version = '$PGVECTOR_VERSION'" vector.control \
    || die "the source package is not pgvector $PGVECTOR_VERSION: $(grep default_version vector.control)"
  make -s PG_CONFIG="$PG_CONFIG" OPTFLAGS="" >/dev/null
  make -s PG_CONFIG="$PG_CONFIG" install >/dev/null
)
log "pgvector $PGVECTOR_VERSION installed"
