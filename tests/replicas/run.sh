#!/usr/bin/env bash
# Replica tests: three gateway replicas sharing one Postgres database behind a real HAProxy
# that balances every request round-robin, with no stickiness, driven by the official MCP
# Python SDK (the interop venv under target/), raw HTTP and mcp-remote (the interop node
# prefix under target/). Needs TEST_DATABASE_URL (a Postgres server where a database may be
# created); the run creates a fresh database and drops it at the end. Installs HAProxy,
# psql, Python's venv and Node.js from Debian when missing; never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/interop-venv"
node_prefix="$target/interop-node"

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  echo "tests/replicas/run.sh: TEST_DATABASE_URL is not set; it needs a Postgres server, e.g." >&2
  echo "  TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres bash tests/replicas/run.sh" >&2
  exit 2
fi

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v haproxy >/dev/null 2>&1 || apt_install haproxy
command -v psql >/dev/null 2>&1 || apt_install postgresql-client
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
command -v npm >/dev/null 2>&1 || apt_install nodejs npm

# The same venv and node prefix as tests/interop/run.sh, rebuilt the same way when the pins
# change.
if ! cmp -s tests/interop/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/interop/requirements.txt
  cp tests/interop/requirements.txt "$venv/requirements.txt"
fi
if ! cmp -s tests/interop/package.json "$node_prefix/package.json" 2>/dev/null \
  || [ ! -x "$node_prefix/node_modules/.bin/mcp-inspector" ] \
  || [ ! -x "$node_prefix/node_modules/.bin/mcp-remote" ]; then
  rm -rf "$node_prefix"
  mkdir -p "$node_prefix"
  cp tests/interop/package.json "$node_prefix/package.json"
  (cd "$node_prefix" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi

cargo build -q -p nomad-gateway -p fake-nomad --bins

# A fresh database on the same server, with the same user and connection parameters.
db="replicas_$$"
db_url=$(python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$TEST_DATABASE_URL" "$db")
psql "$TEST_DATABASE_URL" -qAtc "CREATE DATABASE $db"
trap 'psql "$TEST_DATABASE_URL" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true' EXIT

out=$(mktemp)
set +e
# SIGINT first, so the fixtures stop every process they started.
PYTHONDONTWRITEBYTECODE=1 INTEROP_NODE_PREFIX="$node_prefix" REPLICAS_DATABASE_URL="$db_url" \
  timeout -s INT -k 30 600 "$venv/bin/python" -m pytest -q -s --tb=short -p no:cacheprovider \
  tests/replicas 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
# Counted from pytest's closing summary only: failure messages may say "N failed" too.
summary=$({ grep -E '[0-9]+ (passed|failed|errors?)\b.* in [0-9.]+s' "$out" || true; } | tail -n 1)
passed=$({ grep -Eo '[0-9]+ passed' <<<"$summary" || true; } | cut -d' ' -f1)
failed=$({ grep -Eo '[0-9]+ (failed|errors?)' <<<"$summary" || true; } | awk '{ n += $1 } END { print n + 0 }')
rm -f "$out"
echo "interop: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
