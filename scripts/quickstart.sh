#!/usr/bin/env bash
# The quick start's first command: installs what convkit needs (Debian packages for Fashion-MNIST and Jupyter,
# npm packages), builds the packages, and trains the quick-start CNN on Fashion-MNIST.
# Pass CONVKIT_SIZE=smoke for a seconds-long run.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1
bash scripts/setup-system.sh
npm ci --no-audit --no-fund --loglevel=error
npx turbo run build --output-logs=errors-only
node examples/quickstart.mjs
