#!/usr/bin/env bash
# The whole test suite, as CI runs it: formatting, lints, the dependency rule, and every
# test on SQLite and again on Postgres.
#
# Postgres: TEST_DATABASE_URL when set; else a server on 127.0.0.1:5432 that lets the
# `postgres` role in without a password; else Debian's `postgresql` is installed (when
# missing) and a private throwaway cluster, with TLS on, is started on port 55432.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

say() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

private_postgres() {
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    say "installing Debian's postgresql"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  pg_data="$root/target/test-postgres"
  pg_as=()
  # initdb refuses to run as root; the package's postgres user owns the cluster then.
  if [ "$(id -u)" -eq 0 ]; then pg_as=(runuser -u postgres --); fi
  rm -rf "$pg_data"
  mkdir -p "$pg_data"
  if [ "$(id -u)" -eq 0 ]; then chown postgres "$pg_data"; fi
  "${pg_as[@]}" "$pg_bin/initdb" -D "$pg_data/db" -U postgres -A trust >/dev/null
  # TLS on, as on a production server, so the sslmode/sslrootcert tests have something to
  # talk to. A throwaway self-signed certificate is enough for that.
  "${pg_as[@]}" openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -keyout "$pg_data/db/server.key" -out "$pg_data/db/server.crt" 2>/dev/null
  "${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_data/db" -l "$pg_data/log" -w \
    -o "-p 55432 -k $pg_data -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on" start >/dev/null
  trap '"${pg_as[@]}" "$pg_bin/pg_ctl" -D "$pg_data/db" -m immediate stop >/dev/null 2>&1 || true' EXIT
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:55432/postgres"
}

# The dev PKI script and the private Postgres cluster use openssl.
if ! command -v openssl >/dev/null 2>&1; then
  say "installing openssl"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

postgres_answers() {
  command -v psql >/dev/null 2>&1 && psql "$1" -Atc 'select 1' >/dev/null 2>&1
}

if [ -z "${TEST_DATABASE_URL:-}" ]; then
  if postgres_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
    export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
  else
    private_postgres
  fi
fi
pg_url="$TEST_DATABASE_URL"
unset TEST_DATABASE_URL

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

say "one crypto provider: cargo tree -i ring prints nothing"
ring=$(cargo tree --workspace -i ring 2>/dev/null || true)
if [ -n "$ring" ]; then
  echo "the ring crate is in the tree; only aws-lc-rs may be compiled in:"
  echo "$ring"
  exit 1
fi

log=$(mktemp)
say "tests on SQLite"
cargo test --workspace 2>&1 | tee -a "$log"

say "tests on Postgres"
# --include-ignored: the Postgres-only tests (TLS to the database) run in this pass.
TEST_DATABASE_URL="$pg_url" cargo test --package nomad-gateway -- --include-ignored 2>&1 | tee -a "$log"

say "interop: the official MCP Python SDK and the Inspector CLI against the gateway"
bash tests/interop/run.sh 2>&1 | tee -a "$log"

say "conformance: the official MCP conformance suite's server scenarios at 2025-11-25 and 2026-07-28"
bash tests/conformance/run.sh 2>&1 | tee -a "$log"

say "replicas: three gateways on one Postgres behind a round-robin HAProxy (Python SDK, mcp-remote)"
TEST_DATABASE_URL="$pg_url" bash tests/replicas/run.sh 2>&1 | tee -a "$log"

say "benchmark harness, smoke mode (proves bench/run.sh works; numbers are in docs/benchmarks.md)"
BENCH_DATABASE_URL="$pg_url" bash bench/run.sh smoke

say "deploy: the Kubernetes manifests (kubernetes-validate, checkov) and the Dockerfile (checkov)"
bash tests/deploy/k8s.sh 2>&1 | tee -a "$log"

say "deploy: the Nomad job files parse as HCL2"
bash tests/deploy/nomad.sh 2>&1 | tee -a "$log"

say "deploy: a real Prometheus scrapes the gateway; every metric the dashboard queries exists"
bash tests/deploy/prometheus.sh 2>&1 | { grep -v '^ts=' || true; } | tee -a "$log"

say "deploy: the container image, built with podman and run read-only as a non-root user"
bash tests/deploy/container.sh 2>&1 | tee -a "$log"

# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { passed += $4; failed += $6 }
     /^(interop|conformance): [0-9]+ passed, [0-9]+ failed/ { passed += $2; failed += $4 }
     END { printf "\nsummary: %d passed, %d failed\n", passed, failed }' "$log"
rm -f "$log"
