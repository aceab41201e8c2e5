#!/bin/bash
# `genzoo eval` of the translation ablations (run benchmarks/pix2pix_ablation.sh and
# benchmarks/cyclegan_ablation.sh first): each run's test translations against the true
# pairs (L1, PSNR), then in genzoo's edges2fashion feature network (a classifier trained on
# the task's target garments and labels): FID of the outputs against the 10,000 test
# targets, and the classifier's accuracy on the outputs beside its accuracy on the real
# targets (the pix2pix paper's FCN-score idea). One dropout draw, seed 0. Writes
# benchmarks/results/translation_quality.txt.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
for run in runs/pix2pix-ablation/{l1,gan,l1+gan} runs/cyclegan-ablation/{cycle,gan}; do
  echo "== $run: $(grep -o '\-\-set [a-z_]*=0\|--set use_gan=false' "$run/report.md" | head -1)"
  OMP_NUM_THREADS=1 "$G" --data-root "$DATA" eval "$run"
done | tee benchmarks/results/translation_quality.txt
