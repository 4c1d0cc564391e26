#!/usr/bin/env bash
# Rebuild the bundled ResNet152V2, resources/models/pneumonet-resnet152v2.pneumonet, on a
# 2-core CPU, starting from the weights it has (docs/generalization.md, "ResNet152V2 on the CPU").
#
#   bash tools/train_bundled_resnet_cpu.sh        # about 1 to 1.5 hours on 2 idle cores
#
# 1. Fine-tune the top stage (conv5, the last 3 blocks, and the head) of the current bundle
#    with the generalizing recipe's augmentation and border erasing, at 224 px in float32
#    (the pilot in docs/generalization.md: bfloat16 gains ~7 % on this CPU, not worth the
#    compile; a lower training resolution would move the bundle away from 224 px inference).
#    The input stays unstandardised: the frozen stem learnt unstandardised films.
#    The patient split is seed 1, the bundle's own, so its held-out test patients stay unseen.
#    The schedule is fixed in advance ($EPOCHS, cosine) and the epoch is chosen by the
#    validation patients' AUC; external/ never chooses anything here.
#    Every epoch is checkpointed in $WORK: rerun the script after an interruption and it
#    resumes after the last finished epoch.
# 2. Fit the out-of-distribution guard on the training films (`pneumonet guard fit`).
# 3. Choose the calibration and the threshold on external/ by $RULE (`pneumonet calibrate`).
# 4. Print the external figures (`pneumonet evaluate --json`).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/chest_xray/train}
EXTERNAL=${EXTERNAL:-../shared/data/chest_xray/external}
SOURCE=${SOURCE:-resources/models/pneumonet-resnet152v2.pneumonet}
WORK=${WORK:-$HOME/.cache/pneumonet-resnet-cpu}
OUT=${OUT:-resources/models/pneumonet-resnet152v2.pneumonet}
RULE=${RULE:-sensitivity:0.97}
EPOCHS=${EPOCHS:-5}
UNFREEZE=${UNFREEZE:-3}
GUARD_ARGS=${GUARD_ARGS:-}
PNEUMONET=${PNEUMONET:-.venv/bin/pneumonet}
mkdir -p "$WORK"
# The starting weights are copied once, so that writing $OUT over the bundle never changes
# what a resumed run started from.
[ -f "$WORK/source.pneumonet" ] || cp "$SOURCE" "$WORK/source.pneumonet"

"$PNEUMONET" train "$DATA" --approach finetune --unfreeze "$UNFREEZE" --weights "$WORK/source.pneumonet" \
  --input-norm none --epochs "$EPOCHS" --warmup-epochs 1 --batch-size 32 --seed 1 \
  --checkpoint "$WORK/ckpt.weights.h5" --resume --name pneumonet-resnet152v2 --compression int8 \
  --out "$WORK/trained.pneumonet" --predictions "$WORK/heldout_predictions.csv" --progress text
# shellcheck disable=SC2086
"$PNEUMONET" guard fit "$DATA" --model "$WORK/trained.pneumonet" --out "$WORK/guarded.pneumonet" $GUARD_ARGS
"$PNEUMONET" calibrate "$EXTERNAL" --model "$WORK/guarded.pneumonet" --rule "$RULE" --out "$OUT"
"$PNEUMONET" evaluate "$EXTERNAL" --model "$OUT" --json
