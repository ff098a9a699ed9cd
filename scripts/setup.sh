#!/usr/bin/env bash
# Installs what tinyml-deploy needs on a fresh Debian machine: the Debian
# packages (as root; otherwise prints the apt-get line) and the npm packages.
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The Debian packages, one place: scripts/debian-packages.txt (a test checks it covers every file the build opens).
mapfile -t debs < <(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' -e 's/[[:space:]].*//' scripts/debian-packages.txt)
if [ "${1:-}" = --list-packages ]; then printf '%s\n' "${debs[@]}"; exit 0; fi
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages; run: sudo apt-get install -y ${missing[*]}" >&2
  fi
fi

# npm install only when node_modules is missing or older than the manifests.
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package.json -nt "$stamp" ] || { [ -f package-lock.json ] && [ package-lock.json -nt "$stamp" ]; }; then
  echo "setup: installing npm packages" >&2
  npm install --no-audit --no-fund --loglevel=error >&2
fi

# Last, check everything together (npm packages first: without them the doctor cannot run).
# Warnings (no arduino-cli, no board) pass; a failure stops setup with the doctor's fix lines.
if ! node bin/tinyml.js doctor >&2; then
  echo "setup: tinyml doctor found a problem: run the fix lines above, then rerun" >&2
  exit 1
fi
