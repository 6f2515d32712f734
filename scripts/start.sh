#!/usr/bin/env bash
# The main job: serves the bundled reference model and the web console (HTTP :8080, DICOM C-STORE :11112).
# Builds what is missing first: the reference model (trained by `radiolens train`) and the console.
set -euo pipefail
cd "$(dirname "$0")/.."
# A default model from before intended use and OOD detection is kept aside (nothing deleted) and rebuilt.
if [ -f models/default/radiolens.json ] && ! grep -q '"ood"' models/default/radiolens.json; then
  mv models/default "models/default.old-$(date +%Y%m%d%H%M%S)"
fi
[ -f models/default/radiolens.json ] || npm run --silent build:model
[ -f web/dist/index.html ] || npm run --silent build:web
echo "start: open http://127.0.0.1:${PORT:-8080}/console/ (the admin API key is printed below on first start)"
exec node bin/radiolens.js serve --port "${PORT:-8080}" --web web/dist "$@"
