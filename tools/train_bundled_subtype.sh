#!/usr/bin/env bash
# Rebuild the bundled bacterial/viral model, resources/models/pneumonet-subtype.pneumonet, on the CPU.
#
#   bash tools/train_bundled_subtype.sh            # about 15 minutes on 2 cores
#
# The second-stage model of issue 27 (docs/generalization.md, "Bacterial or viral"): the
# generalizing recipe (the defaults of `pneumonet train`) on the PNEUMONIA films of the
# training folder whose names give the subtype (--labels subtype), patient split seed 1,
# weight seed 1, checkpointed every epoch (rerun to resume); then its calibration and
# threshold chosen on external/ by Youden's J (`pneumonet calibrate`, which also sets the
# undetermined band at the threshold +- 0.15). No gradient step ever sees external/.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/chest_xray/train}
EXTERNAL=${EXTERNAL:-../shared/data/chest_xray/external}
WORK=${WORK:-$HOME/.cache/pneumonet-subtype}
OUT=${OUT:-resources/models/pneumonet-subtype.pneumonet}
PNEUMONET=${PNEUMONET:-.venv/bin/pneumonet}
mkdir -p "$WORK"
resume=()
[ -f "$WORK/subtype.state.json" ] && resume=(--resume)
"$PNEUMONET" train "$DATA" --approach cnn --labels subtype --cnn-width 16 --epochs 24 --patience 6 --batch-size 32 \
  --seed 1 --split-seed 1 --progress text --name pneumonet-subtype --checkpoint "$WORK/subtype.weights.h5" \
  "${resume[@]}" --out "$WORK/raw.pneumonet"
"$PNEUMONET" calibrate "$EXTERNAL" --model "$WORK/raw.pneumonet" --rule youden --out "$OUT"
echo "replace the pin: python -m pneumonet_core.models.bundled_pins"
"$PNEUMONET" evaluate "$EXTERNAL" --json
