#!/usr/bin/env bash
# The container image, built with podman from the project's Dockerfile and run the way the
# README says: `config check`, `healthcheck`, `/healthz`, the non-root UID, a read-only root
# filesystem with a /data volume, and a clean stop on SIGTERM.
#
# No image registry is reachable here, so the two base images the Dockerfile names are
# replaced by local stand-ins under the same names (and the test says so):
#   - the runtime image (distroless `cc`): a scratch image holding this host's C libraries
#     that the binary links (from `ldd`) and its CA certificates, nothing else;
#   - the Rust image of the build stage: this host's /bin/sh and the few tools the
#     Dockerfile's RUN lines use, with a `cargo` that installs the release binary cargo
#     built on this host (`cargo build --release --locked`) into target/release/.
# Everything else is the Dockerfile as shipped. Podman runs as these machines need:
# runc, vfs storage, cgroupfs, explicit ulimits.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work="$root/target/container-test"
storage="$work/storage"
mkdir -p "$work"
# Podman refuses a runroot path longer than 50 characters, which a checkout's target/ can
# easily be; the run state (not the images) goes to a short folder of its own. Its path
# follows from the storage folder, because podman records it there and refuses a storage
# reused with another runroot (a second run in the same checkout).
runroot="/tmp/ngw-podman.$(printf %s "$storage" | sha256sum | cut -c1-12)"
mkdir -p "$runroot"
# A storage made with another runroot (by an older version of this script) starts afresh.
if [ "$(cat "$work/runroot" 2>/dev/null)" != "$runroot" ]; then
  as_root rm -rf "$storage"
  echo "$runroot" >"$work/runroot"
fi
podman_bin=$(command -v podman)
podman() {
  as_root "$podman_bin" --runtime runc --storage-driver vfs --cgroup-manager cgroupfs \
    --root "$storage/root" --runroot "$runroot" "$@"
}
limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

rust_image=$(sed -n 's/^ARG RUST_IMAGE=//p' Dockerfile)
runtime_image=$(sed -n 's/^ARG RUNTIME_IMAGE=//p' Dockerfile)
[ -n "$rust_image" ] && [ -n "$runtime_image" ] || { echo "the Dockerfile names no base images"; exit 1; }

echo "building the release binary for the stand-in build stage"
cargo build --quiet --release --locked --package nomad-gateway
cargo build --quiet --locked --package fake-nomad
binary="$root/target/release/nomad-gateway"

# Copies a host file and what it links into a root filesystem.
with_libraries() {
  local rootfs=$1
  shift
  for file in "$@"; do
    install -D "$file" "$rootfs$file"
    ldd "$file" 2>/dev/null | grep -o '/[^ ]*' | while read -r library; do
      install -D "$library" "$rootfs$library"
    done
  done
}

echo "stand-in for $runtime_image: scratch + the host's C libraries and CA certificates"
runtime_root="$work/runtime-rootfs"
rm -rf "$runtime_root"
mkdir -p "$runtime_root/etc/ssl/certs" "$runtime_root/tmp"
ldd "$binary" | grep -o '/[^ ]*' | while read -r library; do install -D "$library" "$runtime_root$library"; done
cp /etc/ssl/certs/ca-certificates.crt "$runtime_root/etc/ssl/certs/"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$runtime_root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$runtime_root/etc/group"
tar -C "$runtime_root" -c . | podman import - "$runtime_image" >/dev/null

echo "stand-in for $rust_image: /bin/sh and coreutils, and a cargo that installs the host's build"
builder_root="$work/builder-rootfs"
rm -rf "$builder_root"
mkdir -p "$builder_root/usr/local/bin" "$builder_root/opt" "$builder_root/tmp"
with_libraries "$builder_root" /bin/sh /bin/mkdir /bin/touch /bin/rm /bin/cp /usr/bin/install
cp "$binary" "$builder_root/opt/nomad-gateway"
cat >"$builder_root/usr/local/bin/cargo" <<'SHIM'
#!/bin/sh
# Stand-in cargo: the real build ran on the host (`cargo build --release --locked`).
set -e
mkdir -p target/release
cp /opt/nomad-gateway target/release/nomad-gateway
SHIM
chmod +x "$builder_root/usr/local/bin/cargo"
tar -C "$builder_root" -c . | podman import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' - "$rust_image" >/dev/null

image=localhost/nomad-gateway:test
echo "podman build (Dockerfile as shipped)"
podman build --quiet --format docker --pull=never -t "$image" . >/dev/null
size=$(podman image inspect --format '{{.Size}}' "$image")
echo "image size: $((size / 1024 / 1024)) MiB ($size bytes)"
user=$(podman image inspect --format '{{.Config.User}}' "$image")
[ "$user" = "10001:10001" ] || { echo "the image runs as '$user', not 10001:10001"; exit 1; }

echo "config check in the image"
podman run --rm "${limits[@]}" --read-only "$image" config check >"$work/config-check.txt"
grep -q '0.0.0.0:8080' "$work/config-check.txt" || { cat "$work/config-check.txt"; exit 1; }

# A fake Nomad on the host for /readyz; the container shares the host's network (no port
# mapping needed), the gateway listens on a free loopback port with authentication on.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
nomad_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/target/debug/fake-nomad" --listen "127.0.0.1:$nomad_port" >"$work/fake-nomad.log" 2>&1 &
fake_pid=$!
name=nomad-gateway-test
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  podman volume rm -f nomad-gateway-test-data >/dev/null 2>&1 || true
  kill "$fake_pid" 2>/dev/null || true
  as_root rm -rf "$runroot"
}
trap cleanup EXIT
podman rm -f "$name" >/dev/null 2>&1 || true
podman volume rm -f nomad-gateway-test-data >/dev/null 2>&1 || true

echo "serving with --read-only and a /data volume"
podman run -d --name "$name" "${limits[@]}" --read-only --network host \
  -v nomad-gateway-test-data:/data \
  -e GATEWAY_LISTEN="127.0.0.1:$port" -e NOMAD_ADDR="http://127.0.0.1:$nomad_port" \
  "$image" >/dev/null
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/healthz" | grep -q ok || { podman logs "$name"; exit 1; }
echo "healthcheck inside the container"
podman exec "$name" /usr/local/bin/nomad-gateway healthcheck
podman healthcheck run "$name"
pid=$(podman inspect --format '{{.State.Pid}}' "$name")
uid=$(awk '/^Uid:/ {print $2}' "/proc/$pid/status")
[ "$uid" = "10001" ] || { echo "the gateway runs as UID $uid"; exit 1; }
echo "the gateway runs as UID $uid"
# The bootstrap admin key (printed once on the terminal) opens the API.
logs=$(podman logs "$name" 2>&1)
key=$(grep -o 'ngw_bootstrap_[A-Za-z0-9_-]*' <<<"$logs" | head -n 1)
[ -n "$key" ] || { echo "$logs"; echo "no bootstrap key printed"; exit 1; }
jobs=$(curl -fsS -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/jobs")
grep -q '"items"' <<<"$jobs" || { echo "$jobs"; exit 1; }
# The SQLite database and the audit spool are on the volume, not in the image.
volume=$(podman volume inspect --format '{{.Mountpoint}}' nomad-gateway-test-data)
as_root test -f "$volume/nomad-gateway.db" || { echo "no database in the /data volume"; exit 1; }
as_root test -d "$volume/audit-spool" || { echo "no audit spool in the /data volume"; exit 1; }

echo "SIGTERM drains and exits 0"
podman stop -t 30 "$name" >/dev/null
code=$(podman inspect --format '{{.State.ExitCode}}' "$name")
[ "$code" = "0" ] || { podman logs "$name"; echo "exit code $code"; exit 1; }
echo "container: image built ($((size / 1024 / 1024)) MiB), config check, healthz, healthcheck, UID 10001, read-only root, SIGTERM exit 0"
