#!/usr/bin/env bash
# Install (if needed, with the test extras) and run the test suite headless, as CI does.
# Usage: bash tools/test.sh [--fast] [pytest arguments]
#   --fast   the inner loop: leaves out the tests marked slow (training, the ResNet152V2,
#            JAX and Ray, Orthanc, the wizard); CI runs them all.
# pytest's cache (--lf, --ff) lives in $TMPDIR, not in the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install.sh --test
tier=()
if [ "${1:-}" = "--fast" ]; then
  shift
  tier=(-m "not slow")
fi
export QT_QPA_PLATFORM=offscreen
export TF_CPP_MIN_LOG_LEVEL=2
# Tests never touch the user's real settings or models.
export PNEUMONET_HOME="${PNEUMONET_HOME:-$(mktemp -d)}"
exec .venv/bin/python -m pytest -q -o cache_dir="${TMPDIR:-/tmp}/pneumonet-pytest-cache" ${tier[@]+"${tier[@]}"} "$@"
