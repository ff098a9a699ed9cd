#!/usr/bin/env bash
# npm start: set up, then run the main job end to end on the default model.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/tinyml.js pipeline "$@"
