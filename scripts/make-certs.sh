#!/usr/bin/env bash
# `make certs`: a local certificate authority and a server certificate for
# localhost, signed by it, for Envoy's TLS listener (docker-compose.yml
# mounts the folder at /etc/taskproc/tls). For trying HTTPS locally only:
# in production the certificate comes from a real CA.
#
#   scripts/make-certs.sh [DIR]    (default .run/certs, git-ignored)
#
# Idempotent: an existing CA is kept; the server certificate is made again
# only when it is missing, no longer verifies against the CA, or expires
# within 30 days. Private keys are readable by their owner only (0600).
# Clients trust DIR/ca.crt, e.g. `curl --cacert .run/certs/ca.crt https://localhost:8443/health`.
set -euo pipefail

DIR="${1:-.run/certs}"
CA_DAYS=3650
SERVER_DAYS=825
RENEW_WITHIN_S=$((30 * 86400))
# The names the certificate is good for: the host, and Envoy's name on the
# compose network (for clients inside it).
SERVER_NAMES="DNS:localhost,DNS:envoy,IP:127.0.0.1,IP:::1"

command -v openssl >/dev/null || { echo "make certs needs openssl (apt-get install -y openssl)" >&2; exit 1; }
mkdir -p "$DIR"
# Keys come into being unreadable to others, not chmod'ed afterwards.
umask 077

ca_key="$DIR/ca.key" ca_crt="$DIR/ca.crt"
server_key="$DIR/server.key" server_crt="$DIR/server.crt"

if [[ ! -s "$ca_key" || ! -s "$ca_crt" ]]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$ca_key" -out "$ca_crt" -days "$CA_DAYS" -sha256 \
    -subj "/O=taskproc/CN=taskproc local CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" 2>/dev/null
  # A new CA invalidates any server certificate signed by an earlier one.
  rm -f "$server_crt"
  echo "made a local CA: $ca_crt (trust it to reach https://localhost:8443 without warnings)"
fi

server_is_current() {
  [[ -s "$server_key" && -s "$server_crt" ]] || return 1
  openssl verify -CAfile "$ca_crt" "$server_crt" >/dev/null 2>&1 || return 1
  openssl x509 -in "$server_crt" -noout -checkend "$RENEW_WITHIN_S" >/dev/null 2>&1 || return 1
  # The key is the certificate's.
  [[ "$(openssl x509 -in "$server_crt" -noout -pubkey)" == "$(openssl pkey -in "$server_key" -pubout)" ]]
}

if server_is_current; then
  echo "TLS certificate in $DIR is current"
else
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "$work/server.key" -out "$work/server.csr" -subj "/O=taskproc/CN=localhost" 2>/dev/null
  cat > "$work/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$SERVER_NAMES
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  openssl x509 -req -in "$work/server.csr" -CA "$ca_crt" -CAkey "$ca_key" \
    -set_serial "0x$(openssl rand -hex 16)" -days "$SERVER_DAYS" -sha256 \
    -extfile "$work/server.ext" -out "$work/server.crt" 2>/dev/null
  # Key and certificate replace the old pair together.
  mv "$work/server.key" "$server_key"
  mv "$work/server.crt" "$server_crt"
  echo "made a TLS certificate for localhost: $server_crt (key $server_key)"
fi
chmod 600 "$ca_key" "$server_key"
chmod 644 "$ca_crt" "$server_crt"
