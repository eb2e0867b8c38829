#!/usr/bin/env bash
# Prints the directory to put first on PATH so that every make target runs on
# a maintained Node.js LTS, or nothing when the node on the PATH already does.
#
# The project needs Node.js 22 or newer (24 is the LTS it is built and tested
# on). Where the PATH has an older node, this unpacks the official build of
# NODE_VERSION from the npm registry (packages node-<os>-<arch>: the binaries,
# no install script; npm checks the registry's integrity hash) into
# .tools/node-<version>, once. npm itself is JavaScript and runs on whichever
# node comes first on the PATH, so it needs no download of its own.
set -euo pipefail

NODE_VERSION="${TASKPROC_NODE_VERSION:-24.22.3}"
MIN_MAJOR=22
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="$root/.tools/node-$NODE_VERSION"

current_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

if [ -x "$dir/bin/node" ]; then echo "$dir/bin"; exit 0; fi
if [ "$(current_major)" -ge "$MIN_MAJOR" ] && [ -z "${TASKPROC_NODE_VERSION:-}" ]; then exit 0; fi

case "$(uname -s)" in Linux) os=linux ;; Darwin) os=darwin ;; *) echo "provision-node: unsupported OS $(uname -s); install Node.js $MIN_MAJOR+ yourself" >&2; exit 1 ;; esac
case "$(uname -m)" in x86_64|amd64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) echo "provision-node: unsupported CPU $(uname -m); install Node.js $MIN_MAJOR+ yourself" >&2; exit 1 ;; esac

command -v npm >/dev/null 2>&1 || { echo "provision-node: npm is needed to fetch Node.js $NODE_VERSION (or install Node.js $MIN_MAJOR+ yourself)" >&2; exit 1; }
echo "provision-node: node on the PATH is older than $MIN_MAJOR; fetching node-$os-$arch@$NODE_VERSION from the npm registry into .tools/" >&2
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "node-$os-$arch@$NODE_VERSION" >/dev/null)
mkdir -p "$tmp/unpacked"
tar -xzf "$tmp"/node-*.tgz -C "$tmp/unpacked"
"$tmp/unpacked/package/bin/node" --version >/dev/null
mkdir -p "$root/.tools"
rm -rf "$dir"
mv "$tmp/unpacked/package" "$dir"
echo "$dir/bin"
