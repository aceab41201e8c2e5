#!/bin/bash
# CycleGAN on edges2fashion-unpaired, with and without the cycle-consistency loss (the
# paper's Table 4 "GAN alone" is lambda_cycle=0, which also drops the identity loss), each
# for 600 CPU seconds of one thread (width 16, 6 residual blocks, the 16x16 PatchGAN).
# Trained unpaired (edges and garments shuffled apart), judged against the true pairs of
# the test split: each report.md holds test L1/PSNR per direction and the cycle error.
# Run from the repository root; the runs go to runs/cyclegan-ablation/{cycle,gan}.
# Continue one with `genzoo train --resume runs/cyclegan-ablation/NAME --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
common="--data edges2fashion-unpaired --set width=16 --set n_blocks=6 --set d_layers=1
        --set cpu_budget=600 --set num_threads=1 --set tensorboard=false --set progress=false
        --set epochs=100"
mkdir -p runs/cyclegan-ablation && cd runs/cyclegan-ablation
for v in "cycle:" "gan:--set lambda_cycle=0"; do
  name=${v%%:*}; extra=${v#*:}
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$G" --data-root "$DATA" train cyclegan $common $extra --run-dir "$name" \
    > "$name.log" 2>&1
  grep "^| test\|^| a2b\|^| b2a\|cycle" "$name/report.md" | sed "s/^/$name /"
done
