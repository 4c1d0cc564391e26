#!/usr/bin/env bash
# Rebuild the bundled custom CNN, resources/models/pneumonet-cnn.pneumonet, on the CPU.
#
#   bash tools/train_bundled_cnn.sh            # about 40 minutes on 2 cores
#
# Three members trained with the generalizing recipe (the defaults of `pneumonet train`:
# strong augmentation, border erasing, per-film standardisation; docs/generalization.md)
# on the same patient split (seed 1) with weight seeds 1, 2 and 3; their mean as one
# package whose threshold is chosen on the validation patients; the out-of-distribution
# guard fitted on the training films; then calibration and the operating threshold chosen
# on external/ by $RULE (`pneumonet calibrate`: no gradient step ever sees external/).
# Members already trained in $WORK (or by benchmarks/bench_recipes.py in
# /tmp/pneumonet-recipes, same command) are reused. It ends with the external figures.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/data/chest_xray/train}
EXTERNAL=${EXTERNAL:-../shared/data/chest_xray/external}
WORK=${WORK:-/tmp/pneumonet-recipes}
OUT=${OUT:-resources/models/pneumonet-cnn.pneumonet}
RULE=${RULE:-sensitivity:0.97}
SEEDS=${SEEDS:-1 2 3}
PNEUMONET=${PNEUMONET:-.venv/bin/pneumonet}
mkdir -p "$WORK"

members=()
for seed in $SEEDS; do
  member="$WORK/strong+erase+std-s$seed.pneumonet"
  if [ ! -f "$member" ]; then
    "$PNEUMONET" train "$DATA" --approach cnn --cnn-width 16 --epochs 24 --patience 6 --batch-size 32 \
      --seed "$seed" --split-seed 1 --progress none --name "recipe-strong+erase+std-s$seed" --out "$member"
  fi
  members+=("$member")
done

"$PNEUMONET" ensemble "${members[@]}" --data "$DATA" --name pneumonet-cnn --out "$WORK/ensemble.pneumonet"
"$PNEUMONET" guard fit "$DATA" --model "$WORK/ensemble.pneumonet" --out "$WORK/ensemble-guarded.pneumonet"
"$PNEUMONET" calibrate "$EXTERNAL" --model "$WORK/ensemble-guarded.pneumonet" --rule "$RULE" --out "$OUT"
"$PNEUMONET" evaluate "$EXTERNAL" --model "$OUT" --json
