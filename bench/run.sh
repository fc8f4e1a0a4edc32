#!/usr/bin/env bash
# The benchmark harness (see bench/bench.py for what each row measures).
#
#   bench/run.sh                 per-call rows at concurrency 1, 16 and 64, 3 runs each (release build)
#   bench/run.sh sessions [N]    hold N legacy SSE and N Streamable HTTP sessions (default 10000)
#   bench/run.sh smoke           a short pass of both on the debug build, to prove the harness works
#
# Loopback only; everything it starts is stopped when it ends. Installs Debian's nginx-light
# (the static fake Nomad) and wrk (the load generator) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Many held sessions need many descriptors, in the gateway and in the client.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

mode=${1:-calls}
case "$mode" in
  smoke)
    cargo build --quiet --locked
    binary=target/debug/nomad-gateway
    python3 bench/bench.py --binary "$binary" calls --concurrency 1 4 --repeat 1 --duration 1
    python3 bench/bench.py --binary "$binary" sessions --count 50
    ;;
  calls)
    shift || true
    cargo build --quiet --release --locked
    python3 bench/bench.py --binary target/release/nomad-gateway calls "$@"
    ;;
  sessions)
    cargo build --quiet --release --locked
    python3 bench/bench.py --binary target/release/nomad-gateway sessions --count "${2:-10000}"
    ;;
  *)
    echo "usage: bench/run.sh [calls [bench.py options] | sessions [N] | smoke]" >&2
    exit 2
    ;;
esac
