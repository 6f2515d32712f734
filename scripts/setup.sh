#!/usr/bin/env bash
# Installs everything RadioLens needs on Debian 12 (system packages, npm packages, the build). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  build-essential python3 pkg-config  # native addon toolchain
  libdnnl-dev                         # oneDNN, the native CPU engine
  libopenjp2-7-dev libcharls-dev      # OpenJPEG and CharLS, the native JPEG 2000 / JPEG-LS decoders
  libdcmtk-dev                        # DCMTK's IJG 8/12/16-bit libraries, the native JPEG Lossless / 12-bit JPEG decoder
  libturbojpeg0-dev                   # libjpeg-turbo's TurboJPEG API, the native JPEG decoder for uploads
  postgresql                          # the shared store for several service instances (and its tests)
  dcmtk                               # DICOM peer for cross-checks (dcmdump, dsrdump, storescu/storescp, dcmcjpeg)
  dicom3tools                         # dciodvfy: IOD conformance of every object RadioLens writes
  pixelmed-apps                       # DicomSRValidator: SR template conformance (TID 1500) of the results
  orthanc orthanc-dicomweb            # the PACS of the integration tests (each test starts its own instance)
  python3-numpy python3-pydicom python3-pil python3-sklearn python3-torch python3-gdcm  # peers for benchmarks and cross-checks (PIL, GDCM: pydicom's JPEG/JPEG-LS decoders)
  python3-nibabel                     # NIfTI peer for the info/convert cross-checks
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
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The orthanc package starts a system service on install; the tests start their own Orthanc on free ports with
# a temporary configuration and storage, so the packaged one is stopped and kept from starting at boot (it would
# hold ports 4242 and 8042).
if dpkg-query -W -f='${Status}' orthanc 2>/dev/null | grep -q "install ok installed"; then
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now orthanc >/dev/null 2>&1 || true
  else
    $SUDO service orthanc stop >/dev/null 2>&1 || true
    $SUDO update-rc.d orthanc disable >/dev/null 2>&1 || true
  fi
fi

# Node.js: a maintained LTS (docs/adr/005-nodejs-version.md). Where the machine's `node` is older than 22, the official
# Node.js 24 build is installed from the npm registry (package node-linux-<arch>, which carries the headers that
# node-gyp compiles the native addons against) into /usr/local and put first on the PATH.
NODE_VERSION=24.22.3
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64) node_arch=arm64 ;;
    *) echo "setup: no official Node.js build for $(uname -m); install Node.js 22 or 24 first" >&2; exit 1 ;;
  esac
  node_dir=/usr/local/lib/nodejs/node-v$NODE_VERSION-linux-$node_arch
  if [ ! -x "$node_dir/bin/node" ]; then
    echo "setup: installing Node.js $NODE_VERSION (the machine has $(node --version 2>/dev/null || echo none))"
    node_tmp=$(mktemp -d)
    (cd "$node_tmp" && npm pack --silent "node-linux-$node_arch@$NODE_VERSION" >/dev/null && tar xzf ./*.tgz)
    $SUDO mkdir -p "$(dirname "$node_dir")"
    $SUDO mv "$node_tmp/package" "$node_dir"
    rm -rf "$node_tmp"
  fi
  $SUDO ln -sf "$node_dir/bin/node" /usr/local/bin/node
  hash -r
  if [ "$(node_major)" -lt 22 ]; then
    echo "setup: /usr/local/bin must come before $(dirname "$(command -v node)") on the PATH for Node.js $NODE_VERSION" >&2
    exit 1
  fi
fi
# node-gyp builds against the headers of the node that runs (not a machine-wide nodedir of another version).
node_bin=$(readlink -f "$(command -v node)")
export npm_config_nodedir
npm_config_nodedir=$(dirname "$(dirname "$node_bin")")
[ -f "$npm_config_nodedir/include/node/node_api.h" ] || unset npm_config_nodedir
node_abi=$(node -p 'process.versions.modules')

fresh_install=0
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  fresh_install=1
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

# Native dependencies compiled for another Node.js ABI are rebuilt (after a Node.js upgrade, say).
if [ "$(cat node_modules/.radiolens-node-abi 2>/dev/null)" != "$node_abi" ]; then
  if [ "$fresh_install" -eq 0 ]; then
    echo "setup: node_modules was built for another Node.js; rebuilding its native dependencies"
    npm rebuild --no-audit --no-fund
  fi
  echo "$node_abi" >node_modules/.radiolens-node-abi
fi

echo "setup: build"
npm run --silent build
echo "setup: ready"
