#!/usr/bin/env bash
# Parses every Nomad file under nomad/ (the jobs and the ACL policies) with python-hcl2, an
# independent HCL2 parser, and fails on the first file that does not parse. What the job
# maps to in Nomad's JSON is the gateway test `self_submit`'s part; this checks the
# syntax with a parser that is not the fake Nomad's.
#
# The venv under target/deploy-venv is shared with other deployment checks, so this only
# adds to it: python-hcl2 goes into a folder of its own inside the venv, because the venv
# may already hold bc-python-hcl2 (checkov's fork), which installs a module of the same
# name, `hcl2`, that installing python-hcl2 next to it would overwrite.
#
# Idempotent and runnable from any directory: the venv and the parser are made once.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

venv="$root/target/deploy-venv"
version=8.1.4
lib="$venv/opt/python-hcl2-$version"

unset PYTHONPATH PYTHONHOME
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

if ! "$venv/bin/python" -c 'import sys' 2>/dev/null; then
  echo "deploy-nomad: creating $venv"
  mkdir -p "$root/target"
  python3 -m venv "$venv"
fi
if [ ! -d "$lib/python_hcl2-$version.dist-info" ]; then
  echo "deploy-nomad: installing python-hcl2 $version into $lib"
  staging="$lib.partial.$$"
  rm -rf "$staging"
  "$venv/bin/python" -m pip install --quiet --target "$staging" "python-hcl2==$version"
  rm -rf "$lib"
  mv "$staging" "$lib"
fi

shopt -s nullglob
files=("$root"/nomad/*.hcl)
if [ ${#files[@]} -eq 0 ]; then
  echo "deploy-nomad: no .hcl files under $root/nomad" >&2
  exit 1
fi

PYTHONNOUSERSITE=1 PYTHONPATH="$lib" "$venv/bin/python" - "$lib" "${files[@]}" <<'PY'
import os
import sys

lib, paths = sys.argv[1], sys.argv[2:]
import hcl2  # noqa: E402

if not os.path.abspath(hcl2.__file__).startswith(os.path.abspath(lib) + os.sep):
    sys.exit(f"deploy-nomad: imported hcl2 from {hcl2.__file__}, not python-hcl2 in {lib}")

failed = 0
for path in paths:
    name = os.path.relpath(path)
    try:
        with open(path, encoding="utf-8") as f:
            hcl2.load(f)
    except Exception as e:  # lark's errors carry the line and column
        failed += 1
        print(f"deploy-nomad: {name} does not parse as HCL2: {type(e).__name__}: {e}", file=sys.stderr)
if failed:
    sys.exit(f"deploy-nomad: {failed} of {len(paths)} files do not parse")
print(f"deploy-nomad: {len(paths)} files parse as HCL2")
PY
