#!/usr/bin/env bash
# The C load generators `make bench` drives taskproc with (h2load from
# nghttp2-client for gRPC, wrk for REST) and redis-server for the BullMQ peer,
# from Debian's packages. Installs only what is missing (the pattern of
# scripts/install-toolchains.sh).
set -euo pipefail

PACKAGES=(nghttp2-client wrk redis-server)

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
