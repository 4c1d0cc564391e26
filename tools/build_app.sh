#!/usr/bin/env bash
# Build the one-folder desktop app with PyInstaller and run its self-tests:
#   dist/Pneumonet/           the reading-room app: viewer, classify, evaluate, report, listener
#                             (LiteRT; no TensorFlow or Keras in it)
#   dist/Pneumonet-training/  TensorFlow and Keras, for training, --runtime tensorflow, gradient
#                             Grad-CAM and LiteRT graphs of new models; the app finds it beside
#                             itself or as dist/Pneumonet/training/ (pneumonet_core/runtime/training_part.py)
#
# Usage: bash tools/build_app.sh [--skip-selftest]
# Uses .venv/bin/python (or $PYTHON); installs PyInstaller there if it is missing.
# The self-tests run the built app offscreen: without the training part, it loads the bundled
# default model, classifies an image made on the fly and computes its heat map with TensorFlow
# neither loaded nor in the folder, and says in one line that --runtime tensorflow needs the
# part; with the part, it loads the bundled CNN with TensorFlow and explains the image.
set -euo pipefail
cd "$(dirname "$0")/.."

# The project's venv (tools/install.sh) when there is one, else the active Python.
default_python=python
[ -x .venv/bin/python ] && default_python=.venv/bin/python
PYTHON="${PYTHON:-$default_python}"
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
  echo "build_app: installing PyInstaller into $("$PYTHON" -c 'import sys; print(sys.prefix)')"
  "$PYTHON" -m pip install --quiet "pyinstaller>=6.6,<7"
fi

ls resources/models/*.pneumonet >/dev/null 2>&1 || {
  echo "build_app: resources/models has no .pneumonet model to bundle" >&2
  exit 1
}

start=$(date +%s)
# The LiteRT graphs of the bundled models, derived from them now (TensorFlow, minutes for
# ResNet152V2): the app then shows a result without loading TensorFlow. build.spec
# bundles build/litert as resources/litert. Those tools/install.sh derived for these very
# models and this litert_export.py (tools/litert_stamp.sh) are copied instead.
# shellcheck source=tools/litert_stamp.sh
. tools/litert_stamp.sh
models_stamp=$(litert_stamp)
if [ "$(cat resources/litert/.models-sha256 2>/dev/null || true)" = "$models_stamp" ]; then
  rm -rf build/litert && mkdir -p build && cp -r resources/litert build/litert && rm -f build/litert/.models-sha256
  echo "build_app: the LiteRT graphs tools/install.sh derived for these models, copied"
else
  "$PYTHON" tools/derive_litert.py build/litert
fi
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
  --distpath dist --workpath build/pyinstaller build.spec
# TensorFlow's libraries carry 250 MB of symbols nothing uses at run time. Strip them and
# libpython, but not the libraries auditwheel patched into *.libs folders (numpy's
# OpenBLAS...), which strip breaks. The self-test below runs on the stripped app.
if [ "$(uname)" = Linux ] && command -v strip >/dev/null 2>&1; then
  find dist/Pneumonet-training/tensorflow -type f -name '*.so*' -exec strip --strip-unneeded {} +
  find dist/Pneumonet/_internal -maxdepth 1 -type f -name 'libpython3*.so*' -exec strip --strip-unneeded {} +
fi
built=$(date +%s)
for part in Pneumonet Pneumonet-training; do
  echo "build_app: built dist/$part in $((built - start)) s, $(du -sh "dist/$part" | cut -f1)" \
    "($(du -sb "dist/$part" | cut -f1) bytes)"
done

if [ "${1:-}" = "--skip-selftest" ]; then
  exit 0
fi
app=dist/Pneumonet/Pneumonet
[ -x "$app" ] || app=dist/Pneumonet/Pneumonet.exe
# A fresh PNEUMONET_HOME: the self-test must use the bundled model, not the builder's choice.
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
export QT_QPA_PLATFORM=offscreen PNEUMONET_HOME="$home"
# 1. The reading-room app alone: no TensorFlow in the folder, none loaded to show a result
#    ($PNEUMONET_TRAINING_PART names a folder that does not exist: the part beside it is not seen).
if find dist/Pneumonet -path '*/tensorflow/*' -print -quit | grep -q . || \
   find dist/Pneumonet -path '*/keras/*' -print -quit | grep -q .; then
  echo "build_app: dist/Pneumonet carries TensorFlow or Keras" >&2
  exit 1
fi
PNEUMONET_TRAINING_PART="$home/no-part" "$app" --selftest
# ... and says in one line, exit 1, what --runtime tensorflow needs.
set +e
missing=$(PNEUMONET_TRAINING_PART="$home/no-part" "$app" classify --runtime tensorflow "$home/none.png" 2>&1)
code=$?
set -e
if [ "$code" != 1 ] || [ "$(printf '%s\n' "$missing" | wc -l)" != 1 ] || ! grep -q "training part\|Pneumonet-training" <<<"$missing"; then
  printf 'build_app: without the training part, classify --runtime tensorflow answered (exit %s):\n%s\n' "$code" "$missing" >&2
  exit 1
fi
echo "build_app: without the training part: $missing"
# 2. With the training part beside it: TensorFlow loads and explains with the bundled CNN.
"$app" --selftest --training --model "dist/Pneumonet/_internal/resources/models/pneumonet-cnn.pneumonet"
done_at=$(date +%s)
echo "build_app: self-tests passed in $((done_at - built)) s"
