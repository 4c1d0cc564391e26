#!/usr/bin/env bash
# Install (if needed) and run the whole test suite headless, as CI does.
# Usage: bash tools/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh
export QT_QPA_PLATFORM=offscreen
export TF_CPP_MIN_LOG_LEVEL=2
# Tests never touch the user's real settings or models.
export PNEUMONET_HOME="${PNEUMONET_HOME:-$(mktemp -d)}"
exec .venv/bin/python -m pytest -q "$@"
