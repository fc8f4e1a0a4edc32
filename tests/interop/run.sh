#!/usr/bin/env bash
# Interop tests: the official MCP Python SDK (pinned in requirements.txt, in a venv under
# target/), the TypeScript SDK, the MCP Inspector CLI and puppeteer-core (pinned in
# package.json, installed under target/) with Debian's Chromium, against the gateway over
# HTTPS. Installs what is missing; never skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v openssl >/dev/null 2>&1 || apt_install openssl
# The headless browser of the built-in authorization server's sign-in test.
command -v chromium >/dev/null 2>&1 || apt_install chromium
source tests/interop/clients.sh

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
