#!/usr/bin/env bash
# The benchmark harness (see bench/bench.py for what each row measures).
#
#   bench/run.sh                 per-call rows at concurrency 1, 16 and 64, 3 runs each (release build)
#   bench/run.sh sessions [N]    hold N legacy SSE and N Streamable HTTP sessions (default 10000)
#   bench/run.sh replicas        two gateways on one Postgres: a session served by the replica that
#                                did not open it, beside the one that did (release build)
#   bench/run.sh smoke           a short pass of all three on the debug build, to prove the harness works
#
# `replicas` needs a Postgres server where a database may be created: BENCH_DATABASE_URL, else
# TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres. It creates a fresh
# database and drops it at the end, and fails when the server cannot be reached.
#
# Loopback only; everything it starts is stopped when it ends. Installs Debian's nginx-light
# (the static fake Nomad), wrk (the load generator) and psql when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
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
    python3 bench/bench.py --binary "$binary" replicas --concurrency 4 --repeat 1 --duration 1
    ;;
  calls)
    shift || true
    cargo build --quiet --release --locked
    python3 bench/bench.py --binary target/release/nomad-gateway calls "$@"
    ;;
  replicas)
    shift || true
    cargo build --quiet --release --locked
    python3 bench/bench.py --binary target/release/nomad-gateway replicas "$@"
    ;;
  sessions)
    cargo build --quiet --release --locked
    python3 bench/bench.py --binary target/release/nomad-gateway sessions --count "${2:-10000}"
    ;;
  *)
    echo "usage: bench/run.sh [calls [bench.py options] | replicas [bench.py options] | sessions [N] | smoke]" >&2
    exit 2
    ;;
esac
