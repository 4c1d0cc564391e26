#!/usr/bin/env bash
# Train the bundled ResNet152V2 on the lent GPU machine with JAX, in one call, with the
# generalizing recipe (the defaults of `pneumonet train`, see docs/generalization.md).
#
# Run through the device tool from the repository root, carrying .whl (keras and the
# few wheels the machine lacks) and .devdata (a copy of ../shared/data/chest_xray: train/
# and external/):
#   bash tools/gpu_train_resnet.sh
# It trains with the project's own `pneumonet train`, fits the out-of-distribution guard
# on the training films, chooses the threshold and calibration on external/ by $RULE
# (`pneumonet calibrate`; no gradient step sees external/), writes the package split into
# parts of at most 15 MiB, the held-out predictions and the log to $OUT, and prints the
# figures last. Locally, on the CPU, try it first with a tiny run:
#   OUT=/tmp/out EPOCHS=1 LIMIT=60 BATCH=8 DATA=../shared/data/chest_xray/train \
#   GUARD_DATA=/tmp/small EXTERNAL=../shared/data/chest_xray/external bash tools/gpu_train_resnet.sh
# (/tmp/small: NORMAL/ and PNEUMONIA/ with a few dozen training films each, so that the
# guard is not fitted on 5,216 films by an untrained network on the CPU)
set -euo pipefail
OUT=${OUT:?set OUT to the output folder}
EPOCHS=${EPOCHS:-80}
BATCH=${BATCH:-128}
SEED=${SEED:-1}
PATIENCE=${PATIENCE:-20}
TIME_LIMIT=${TIME_LIMIT:-5.5}
DATA=${DATA:-.devdata/train}
EXTERNAL=${EXTERNAL:-.devdata/external}
# The films the guard is fitted on: the training folder; a small copy for a CPU trial.
GUARD_DATA=${GUARD_DATA:-$DATA}
RULE=${RULE:-sensitivity:0.97}
LIMIT_ARGS=()
if [ -n "${LIMIT:-}" ]; then LIMIT_ARGS=(--limit "$LIMIT"); fi

if [ -d .whl ] && [ -z "${NO_WHEELS:-}" ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD
else
  export PYTHONPATH=$PWD
fi
export KERAS_BACKEND=jax
# Final float32 evaluation at full precision (no TF32), so the CPU reproduces it closely.
export JAX_DEFAULT_MATMUL_PRECISION=highest
export XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true
python3 -c "import jax, keras; print('jax', jax.__version__, jax.devices(), 'keras', keras.__version__)"

start=$(date +%s)
python3 -m pneumonet_cli.main train "$DATA" \
  --approach finetune --unfreeze all --weights none \
  --epochs "$EPOCHS" --batch-size "$BATCH" --seed "$SEED" --patience "$PATIENCE" --time-limit "$TIME_LIMIT" \
  --name pneumonet-resnet152v2 --compression int8 \
  --out "$OUT/trained.pneumonet" --predictions "$OUT/heldout_predictions.csv" \
  "${LIMIT_ARGS[@]}" --progress text 2>&1 | tee "$OUT/train.log"
end=$(date +%s)
python3 -m pneumonet_cli.main guard fit "$GUARD_DATA" --model "$OUT/trained.pneumonet" --out "$OUT/guarded.pneumonet" \
  2>&1 | tee -a "$OUT/train.log"
python3 -m pneumonet_cli.main calibrate "$EXTERNAL" --model "$OUT/guarded.pneumonet" \
  --out "$OUT/pneumonet-resnet152v2.pneumonet" --rule "$RULE" 2>&1 | tee -a "$OUT/train.log"
rm -f "$OUT/trained.pneumonet" "$OUT/guarded.pneumonet"

cd "$OUT"
sha256sum pneumonet-resnet152v2.pneumonet > pneumonet-resnet152v2.sha256
split -b 15M -d -a 1 pneumonet-resnet152v2.pneumonet pneumonet-resnet152v2.part
rm pneumonet-resnet152v2.pneumonet
python3 - <<PY
import json, zipfile, glob
print("parts:", sorted(glob.glob("pneumonet-resnet152v2.part*")))
PY
echo "seconds: $((end - start))"
tail -n 3 train.log
