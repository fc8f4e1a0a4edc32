# Sourced by tests/interop/run.sh and tests/replicas/run.sh: the official MCP clients the
# tests drive, installed under target/ (the Python SDK in a venv, the TypeScript SDK, the
# Inspector CLI and mcp-remote in a node prefix) and rebuilt when their pins change.
# Installs Python's venv and Node.js from Debian when missing. Needs `root` (the checkout) and `apt_install`; sets
# `venv` and `node_prefix`.
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/interop-venv"
node_prefix="$target/interop-node"

if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3 python3-venv
fi
command -v npm >/dev/null 2>&1 || apt_install nodejs npm

if ! cmp -s "$root/tests/interop/requirements.txt" "$venv/requirements.txt" 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$root/tests/interop/requirements.txt"
  cp "$root/tests/interop/requirements.txt" "$venv/requirements.txt"
fi
if ! cmp -s "$root/tests/interop/package.json" "$node_prefix/package.json" 2>/dev/null \
  || [ ! -x "$node_prefix/node_modules/.bin/mcp-inspector" ] \
  || [ ! -x "$node_prefix/node_modules/.bin/mcp-remote" ] \
  || [ ! -d "$node_prefix/node_modules/@modelcontextprotocol/sdk" ] \
  || [ ! -d "$node_prefix/node_modules/puppeteer-core" ]; then
  rm -rf "$node_prefix"
  mkdir -p "$node_prefix"
  cp "$root/tests/interop/package.json" "$node_prefix/package.json"
  (cd "$node_prefix" && npm install --no-audit --no-fund --no-package-lock --loglevel=error)
fi
