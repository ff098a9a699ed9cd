#!/usr/bin/env bash
# npm test: set up, type-check, then run every test file with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc --noEmit -p .
exec node --import tsx --test --test-reporter=spec test/*.test.ts
