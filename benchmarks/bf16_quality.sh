#!/bin/bash
# bf16 mixed precision against float32 at the same steps: one model per family, each trained
# twice from the same seed, `--set precision=32-true` and `--set precision=bf16-mixed`
# (Fabric's autocast of the training step; evaluation runs in float32), then `genzoo eval`:
# test NLL for the likelihood models (exact, or the IWAE bound of the VAE), FID/KID against
# the test split in genzoo's feature network for DCGAN, L1/PSNR/FID for Pix2Pix.
# One thread per run. The training loop's CPU seconds are in each report.md: they come from
# runs one after the other, so benchmarks/bf16_speed.py (interleaved) is the speed measure.
# Runs go to $OUT (runs/bf16 by default), the table to benchmarks/results/bf16_quality.txt.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=${OUT:-runs/bf16}
quiet="--set num_threads=1 --set tensorboard=false --set progress=false --set n_samples=16"
mkdir -p "$OUT"
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
MODELS=${MODELS:-"made:binarized-mnist:3000 vae:binarized-mnist:3000 nade:binarized-mnist:1000
  pixelcnn:binarized-mnist:300 dcgan:mnist:500 pix2pix:edges2fashion:100"}
for spec in $MODELS; do
  IFS=: read -r model data steps <<< "$spec"
  for precision in 32-true bf16-mixed; do
    run="$OUT/$model-$precision"
    if [ ! -f "$run/model.safetensors" ]; then
      # shellcheck disable=SC2086
      g train "$model" --data "$data" $quiet --set max_steps="$steps" --set val_every="$steps" \
        --set precision="$precision" --run-dir "$run" > "$run.log" 2>&1
    fi
  done
done
for spec in $MODELS; do
  IFS=: read -r model data steps <<< "$spec"
  for precision in 32-true bf16-mixed; do
    run="$OUT/$model-$precision"
    echo "== $model on $data, $steps steps, precision=$precision"
    grep "training loop" "$run/report.md" || true
    g eval "$run" | grep -v "^  features\|samples vs" || true
  done
done | tee benchmarks/results/bf16_quality.txt
