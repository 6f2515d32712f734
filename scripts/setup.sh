#!/usr/bin/env bash
# Installs everything RadioLens needs on Debian 12 (system packages, npm packages, the build). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential python3 pkg-config  # native addon toolchain
  libdnnl-dev                         # oneDNN, the native CPU engine
  dcmtk                               # DICOM peer for cross-checks (dcmdump, dsrdump, storescu/storescp)
  python3-numpy python3-pydicom python3-pil python3-sklearn python3-torch  # peers for benchmarks and cross-checks (PIL: pydicom's JPEG decoders)
  chromium                            # headless browser for HTML report and console tests
  curl
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

echo "setup: build"
npm run --silent build
echo "setup: ready"
