#!/usr/bin/env bash
# Debian packages the tests use beyond Node.js: protoc and the gRPC plugins
# with Python's and Go's gRPC libraries (the SDK proofs), luajit (the Envoy
# Lua rule's tests), openssl (`make certs` and its test), prometheus
# (promtool, and the real Prometheus the telemetry tests scrape the
# services with) and Chromium (the dashboard's
# browser tests drive Debian's build with playwright-core, which cannot
# download a browser here). Installs only what is missing.
set -euo pipefail

PACKAGES=(
  protobuf-compiler protobuf-compiler-grpc python3-grpcio python3-protobuf
  protoc-gen-go protoc-gen-go-grpc golang-go golang-google-grpc-dev
  golang-google-protobuf-dev golang-github-golang-protobuf-1-5-dev
  luajit
  openssl
  chromium
  prometheus
)

missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]} > 0)); then
  echo "installing: ${missing[*]}"
  SUDO=$([ "$(id -u)" -eq 0 ] && echo "" || echo sudo)
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
