#!/usr/bin/env bash
# Makes a development PKI for running the gateway over HTTPS on a laptop:
#   ca.pem / ca-key.pem          a private CA (10 years)
#   server.pem / server-key.pem  the gateway's certificate for localhost, 127.0.0.1, ::1
#                                and any extra names given with --name (397 days)
#   client.pem / client-key.pem  a client certificate for mutual TLS (CN=dev-client)
# into certs/dev/ (git-ignored) or the folder given as the first argument.
# Never use these in production; see certs/README.md.
set -euo pipefail

out="$(cd "$(dirname "$0")" && pwd)/dev"
extra_names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) extra_names+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) out="$1"; shift ;;
  esac
done

if ! command -v openssl >/dev/null 2>&1; then
  echo "openssl is required: apt-get install -y openssl" >&2
  exit 1
fi

mkdir -p "$out"
cd "$out"
umask 077

san="DNS:localhost,IP:127.0.0.1,IP:::1"
for name in "${extra_names[@]}"; do
  if [[ "$name" =~ ^[0-9.]+$ || "$name" == *:* ]]; then san="$san,IP:$name"; else san="$san,DNS:$name"; fi
done

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

key ca-key.pem
openssl req -x509 -new -key ca-key.pem -sha256 -days 3650 -subj "/CN=nomad-gateway dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.pem

issue() { # name cn extensions
  key "$1-key.pem"
  openssl req -new -key "$1-key.pem" -subj "/CN=$2" -out "$1.csr"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -sha256 -days 397 \
    -extfile <(printf '%s\n' "$3") -out "$1.pem" 2>/dev/null
  rm -f "$1.csr"
}

issue server localhost "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san"
issue client dev-client "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"
rm -f ca.srl
chmod 644 ca.pem server.pem client.pem

cat <<EOT
Development PKI written to $out
  GATEWAY_TLS_CERT=$out/server.pem
  GATEWAY_TLS_KEY=$out/server-key.pem
  GATEWAY_TLS_CLIENT_CA=$out/ca.pem        (optional: mutual TLS)
Clients trust $out/ca.pem, e.g. curl --cacert $out/ca.pem https://localhost:8443/healthz
EOT
