#!/usr/bin/env bash
# A real Prometheus (Debian's) scrapes a running gateway; see prometheus.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
if ! command -v prometheus >/dev/null 2>&1; then
  echo "installing prometheus"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi
cargo build --quiet --locked --package nomad-gateway --package fake-nomad
python3 tests/deploy/prometheus.py "$(pwd)"
