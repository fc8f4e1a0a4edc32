#!/usr/bin/env bash
# Checks the plain Kubernetes manifests in helm-free-manifests/ (and the Dockerfile, when the
# repository has one), offline:
#   1. kubernetes-validate, in strict mode (unknown fields are errors), against the newest
#      Kubernetes release whose schemas the pinned kubernetes-validate bundles;
#   2. checkov's Kubernetes checks on helm-free-manifests/ (skips are checkov.io/skip*
#      annotations, each justified in helm-free-manifests/README.md);
#   3. checkov's Dockerfile checks on ./Dockerfile, when it exists.
# Any error, unknown kind/apiVersion or failed check fails the script. The tools live in a
# virtualenv under target/deploy-venv, installed from PyPI on the first run and reused after.
# Runs from any directory; running it again changes nothing.
set -euo pipefail

KUBERNETES_VALIDATE_VERSION=1.37.0
CHECKOV_VERSION=3.3.30

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

manifests=helm-free-manifests
venv=target/deploy-venv
py=$venv/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PYTHONPATH PYTHONHOME

say() { printf '\n==> %s\n' "$*"; }
fail() {
  printf 'deploy-k8s: FAILED: %s\n' "$*" >&2
  exit 1
}

# --- tools -----------------------------------------------------------------------------------
pins_installed() {
  "$py" - "$KUBERNETES_VALIDATE_VERSION" "$CHECKOV_VERSION" <<'EOF' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("kubernetes-validate"), version("checkov")) == tuple(sys.argv[1:3]) else 1)
EOF
}

if ! "$py" -c 'import sys' 2>/dev/null; then
  say "creating $venv"
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv"
fi
if ! pins_installed; then
  say "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION and checkov $CHECKOV_VERSION"
  "$py" -m pip install --quiet \
    "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION" "checkov==$CHECKOV_VERSION"
  pins_installed || fail "the pinned tools did not install"
fi
say "tools: kubernetes-validate $KUBERNETES_VALIDATE_VERSION, checkov $CHECKOV_VERSION ($venv)"

shopt -s nullglob
files=("$manifests"/*.yaml "$manifests"/*.yml "$manifests"/*.json)
shopt -u nullglob
[ "${#files[@]}" -gt 0 ] || fail "no manifests in $manifests/"

# --- 1. schemas ------------------------------------------------------------------------------
# The newest Kubernetes release the bundled schemas cover (validation never goes online).
k8s_version=$("$py" -c 'import kubernetes_validate.utils as u; print(u.latest_version())')
k8s_minor=${k8s_version%.*}
say "kubernetes-validate --strict: ${#files[@]} manifests against Kubernetes $k8s_minor ($k8s_version, the newest this kubernetes-validate supports)"
set +e
validate_out=$("$venv/bin/kubernetes-validate" --strict -k "$k8s_version" "${files[@]}" 2>&1)
validate_rc=$?
set -e
printf '%s\n' "$validate_out"
[ "$validate_rc" -eq 0 ] || fail "kubernetes-validate found errors (exit $validate_rc)"
# kubernetes-validate only warns, and exits 0, on a kind or apiVersion it has no schema for:
# that is a typo or an API this Kubernetes release no longer serves, so it fails here.
if grep -Eq '^(WARN|ERROR|FATAL)' <<<"$validate_out"; then
  fail "kubernetes-validate could not check every resource"
fi
for f in "${files[@]}"; do
  grep -Fq "INFO $f passed" <<<"$validate_out" || fail "$f holds no resource"
done

# --- 2./3. checkov ---------------------------------------------------------------------------
# --skip-download: no call to the Prisma Cloud API for guidelines (offline; the checks
# themselves ship with checkov). The JSON report is read to make sure checks really ran.
report_dir=$(mktemp -d)
trap 'rm -rf "$report_dir"' EXIT

run_checkov() { # name, then checkov's arguments
  local name=$1 report="$report_dir/$1.json"
  shift
  set +e
  "$venv/bin/checkov" "$@" --compact --quiet --skip-download \
    -o cli -o json --output-file-path "console,$report" 2> "$report_dir/$name.stderr"
  local rc=$?
  set -e
  if [ "$rc" -ne 0 ]; then
    cat "$report_dir/$name.stderr" >&2
    fail "checkov found failed checks in $name (exit $rc)"
  fi
  "$py" - "$report" "$name" <<'EOF' || fail "checkov did not check $name"
import json, sys
report, name = sys.argv[1:3]
data = json.load(open(report))
runs = data if isinstance(data, list) else [data]
s = {k: sum(r.get("summary", {}).get(k, 0) for r in runs) for k in ("passed", "failed", "skipped", "parsing_errors")}
print(f"checkov {name}: {s['passed']} passed, {s['failed']} failed, {s['skipped']} skipped, {s['parsing_errors']} parsing errors")
sys.exit(0 if s["passed"] > 0 and s["failed"] == 0 and s["parsing_errors"] == 0 else 1)
EOF
}

say "checkov: Kubernetes checks on $manifests/"
run_checkov kubernetes -d "$manifests" --framework kubernetes

if [ -f Dockerfile ]; then
  say "checkov: Dockerfile checks on Dockerfile"
  run_checkov dockerfile -f Dockerfile --framework dockerfile
else
  say "checkov: no Dockerfile at the repository root, its checks are not run"
fi

echo
echo "deploy-k8s: ${#files[@]} manifests valid for Kubernetes $k8s_minor, checkov passed"
