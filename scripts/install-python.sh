#!/usr/bin/env bash
# Creates .venv with the pinned Python dependencies. Idempotent: skips the install
# when the requirements file has not changed since the last successful run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"

venv=$root/.venv
req=$root/python/requirements.txt
stamp=$venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)

if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
   && grep -qx 'home = /usr/bin' "$venv/pyvenv.cfg"; then
  exit 0
fi
log "creating the Python environment in .venv"
# Debian's python3 (the one plpython3u embeds), not a per-user interpreter: the daemon
# runs as the service account, which must be able to execute it.
rm -rf "$venv"
/usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
# torch first and alone, so that nothing later resolves a different build.
"$venv/bin/pip" install -q --disable-pip-version-check "$(grep -E '^torch==' "$req")"
# MEMORY_PY_RUNTIME_ONLY=1 (docker/Dockerfile.daemon): the pins above the
# "development only" line, without the test, lint and benchmark tools.
if [ "${MEMORY_PY_RUNTIME_ONLY:-}" = 1 ]; then
  sed '/^# -- development only/q' "$req" > "$venv/requirements-runtime.txt"
  req=$venv/requirements-runtime.txt
fi
"$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
# The daemon and tests import the project's package from python/.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps -e "$root/python" >/dev/null
echo "$want" > "$stamp"
log "Python environment ready"
