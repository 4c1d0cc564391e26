#!/usr/bin/env bash
# On the lent GPU machine: train the bundled ResNet152V2 recipe again, keep it in float32
# (on that machine only: 233 MB cannot come back), and run benchmarks/bench_compression.py
# on it, so the effect of int8 storage is measured on a real ResNet152V2.
#   carry: .whl .devdata
set -euo pipefail
OUT=${OUT:?set OUT}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax JAX_DEFAULT_MATMUL_PRECISION=highest XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python3 -m pneumonet_cli.main train .devdata/train --approach finetune --unfreeze all --weights none \
  --epochs 80 --batch-size 128 --seed 1 --patience 20 --time-limit "${TIME_LIMIT:-3}" --compression float32 \
  --name resnet152v2-float32-reference --out /tmp/f32.pneumonet --progress none 2>&1 | tail -n 2 | tee "$OUT/train_tail.log"
python3 benchmarks/bench_compression.py /tmp/f32.pneumonet --data .devdata/train --batch-size 128 2>&1 \
  | grep -v -E "^[IW][0-9]{4}" | tee "$OUT/bench_compression_resnet152v2.txt"
