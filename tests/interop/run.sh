#!/usr/bin/env bash
# Interop tests: the official MCP Python SDK (pinned in requirements.txt, in a venv under
# target/) and the MCP Inspector CLI (pinned in package.json, installed under target/)
# against the gateway over HTTPS. Installs what is missing; never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/interop-venv"
node_prefix="$target/interop-node"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v openssl >/dev/null 2>&1 || apt_install openssl
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
command -v npm >/dev/null 2>&1 || apt_install nodejs npm

# The venv is rebuilt when the pins change.
if ! cmp -s tests/interop/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/interop/requirements.txt
  cp tests/interop/requirements.txt "$venv/requirements.txt"
fi
if ! cmp -s tests/interop/package.json "$node_prefix/package.json" 2>/dev/null \
  || [ ! -x "$node_prefix/node_modules/.bin/mcp-inspector" ]; then
  rm -rf "$node_prefix"
  mkdir -p "$node_prefix"
  cp tests/interop/package.json "$node_prefix/package.json"
  (cd "$node_prefix" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi

cargo build -q -p nomad-gateway -p fake-nomad --bins

out=$(mktemp)
set +e
PYTHONDONTWRITEBYTECODE=1 INTEROP_NODE_PREFIX="$node_prefix" "$venv/bin/python" -m pytest -q -p no:cacheprovider \
  tests/interop 2>&1 | tee "$out"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -Eo '[0-9]+ passed' "$out" | tail -n 1 | cut -d' ' -f1 || true)
failed=$({ grep -Eo '[0-9]+ (failed|errors?)' "$out" || true; } | awk '{ n += $1 } END { print n + 0 }')
rm -f "$out"
echo "interop: ${passed:-0} passed, ${failed:-0} failed"
exit "$status"
