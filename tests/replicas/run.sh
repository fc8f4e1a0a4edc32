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
# The same clients as tests/interop/, installed the same way.
source tests/interop/clients.sh

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
