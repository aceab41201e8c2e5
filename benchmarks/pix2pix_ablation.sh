#!/bin/bash
# Pix2Pix's Table 1 ablation on edges2fashion: L1 alone, cGAN alone, L1 + cGAN, each for
# 600 CPU seconds of one thread (width 16). Run from the repository root; the runs go to
# runs/pix2pix-ablation/{l1,gan,l1+gan}, each with its report.md (test L1 and PSNR) and
# translations.png. Continue one with `genzoo train --resume runs/pix2pix-ablation/NAME
# --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
common="--data edges2fashion --set width=16 --set cpu_budget=600 --set num_threads=1
        --set tensorboard=false --set progress=false --set epochs=100"
mkdir -p runs/pix2pix-ablation && cd runs/pix2pix-ablation
for v in "l1:--set use_gan=false" "gan:--set lambda_l1=0" "l1+gan:"; do
  name=${v%%:*}; extra=${v#*:}
  # shellcheck disable=SC2086
  OMP_NUM_THREADS=1 "$G" --data-root "$DATA" train pix2pix $common $extra --run-dir "$name" \
    > "$name.log" 2>&1
  grep "^| test" "$name/report.md" | sed "s/^/$name /"
done
