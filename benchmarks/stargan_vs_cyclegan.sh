#!/bin/bash
# One StarGAN for both morpho-mnist attributes against one CycleGAN per attribute, at the
# same total CPU budget: StarGAN 1,200 CPU s of one thread on morpho-mnist, each CycleGAN
# 600 on its morpho-ATTR-unpaired (the same 10,000 training images parted by ATTR). All at
# width 16 with 6 residual blocks (CycleGAN's 16x16 PatchGAN, d_layers=1), batch 100.
# Then benchmarks/stargan_vs_cyclegan.py judges all three on morpho-mnist's test digits
# (its docstring gives the protocol) and `genzoo eval` adds StarGAN's own report.
# Run from the repository root; the runs go to runs/stargan-vs-cyclegan/NAME, the output
# to benchmarks/results/stargan_vs_cyclegan.txt. Continue a run with
# `genzoo train --resume runs/stargan-vs-cyclegan/NAME --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
PY=$(dirname "$G")/python
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=$(realpath benchmarks/results)/stargan_vs_cyclegan.txt
BENCH=$(realpath benchmarks/stargan_vs_cyclegan.py)
BUDGET=${BUDGET:-1200}
common="--set width=16 --set n_blocks=6 --set num_threads=1 --set tensorboard=false
        --set progress=false --set epochs=1000"
mkdir -p runs/stargan-vs-cyclegan && cd runs/stargan-vs-cyclegan
for v in "stargan:stargan --data morpho-mnist --set cpu_budget=$BUDGET" \
         "thick:cyclegan --data morpho-thick-unpaired --set d_layers=1 --set cpu_budget=$((BUDGET / 2))" \
         "slanted:cyclegan --data morpho-slanted-unpaired --set d_layers=1 --set cpu_budget=$((BUDGET / 2))"; do
  name=${v%%:*}; args=${v#*:}
  if [ -z "${SKIP_TRAIN:-}" ]; then
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 "$G" --data-root "$DATA" train $args $common --run-dir "$name" \
      > "$name.log" 2>&1
  fi
done
{
  echo "\$ bash benchmarks/stargan_vs_cyclegan.sh   (BUDGET=$BUDGET CPU s for StarGAN, half each CycleGAN)"
  OMP_NUM_THREADS=1 "$PY" "$BENCH" --stargan stargan --cyclegan thick=thick \
    --cyclegan slanted=slanted --data-root "$DATA"
  echo
  echo "\$ genzoo eval runs/stargan-vs-cyclegan/stargan"
  OMP_NUM_THREADS=1 "$G" --data-root "$DATA" eval stargan
  grep "^| thick\|^| slanted" stargan/report.md
} 2>&1 | tee "$OUT"
