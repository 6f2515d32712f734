#!/usr/bin/env bash
# Installs everything RadioLens needs on Debian 12 (system packages, npm packages, the build). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential python3 pkg-config  # native addon toolchain
  libdnnl-dev                         # oneDNN, the native CPU engine
  libopenjp2-7-dev libcharls-dev      # OpenJPEG and CharLS, the native JPEG 2000 / JPEG-LS decoders
  postgresql                          # the shared store for several service instances (and its tests)
  dcmtk                               # DICOM peer for cross-checks (dcmdump, dsrdump, storescu/storescp)
  python3-numpy python3-pydicom python3-pil python3-sklearn python3-torch python3-gdcm  # peers for benchmarks and cross-checks (PIL, GDCM: pydicom's JPEG/JPEG-LS decoders)
  python3-fastapi python3-uvicorn     # bench:serve's peer (FastAPI + uvicorn + PyTorch, bench/serve_peer.py)
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
  err=$(mktemp)
  if ! npm ci --no-audit --no-fund 2>"$err"; then
    cat "$err" >&2
    # A registry mirror without other platforms' optional binaries (e.g. @biomejs/cli-darwin-*) makes npm ci
    # refuse a lock file that npm install itself wrote; npm install still installs exactly the locked versions.
    if grep -q "Missing: .* from lock file" "$err"; then
      echo "setup: npm ci refused the lock file for optional packages of other platforms; installing the locked versions with npm install"
      npm install --no-audit --no-fund --no-save
    else
      exit 1
    fi
  fi
fi

echo "setup: build"
npm run --silent build
echo "setup: ready"
