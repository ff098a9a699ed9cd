#!/usr/bin/env bash
# npm start: set up, then the main job end to end on the emulated board:
# train the default model if it is missing, quantize, export, evaluate on the
# host, then build the firmware, boot it in QEMU and validate it over serial.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
node bin/tinyml.js pipeline --model models/default
exec node bin/tinyml.js deploy --model models/default --board emulator --samples "${TINYML_SAMPLES:-1000}"
