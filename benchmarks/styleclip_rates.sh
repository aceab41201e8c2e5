#!/bin/bash
# StyleCLIP edit-success rates (benchmarks/styleclip_rates.py) on the two StyleGANs of
# benchmarks/gan32_compare.sh: mnist32 (runs/gan32/stylegan) with the prompts "thicker",
# "thinner", "slanted left", "slanted right", "a handwritten seven", and CIFAR-10
# (runs/gan32-cifar10/stylegan) with "a brighter image", "a darker image", "make it a
# horse"; 10 seeds each, 200 Adam steps, λ_L2 0.008 and a sweep of λ_L2. The joint models
# are contrastive runs trained here when missing: runs/joint32 (300 steps on
# mnist32-captions, as benchmarks/styleclip_first.sh) and runs/joint-cifar10 (2,000 steps
# on cifar10-captions). Then one edit strip per prompt (seed 3) with `genzoo edit`.
# Writes benchmarks/results/styleclip_rates.txt and docs/samples/gans/styleclip-*.png.
# Run from the repository root. MNIST=DIR / CIFAR=DIR point at other StyleGAN runs.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
MNIST=${MNIST:-runs/gan32/stylegan}
CIFAR=${CIFAR:-runs/gan32-cifar10/stylegan}
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
joint() {  # RUN DATA STEPS
  [ -f "$1/model.safetensors" ] || g train contrastive --data "$2" --set max_steps="$3" \
    --set num_threads=1 --set progress=false --set tensorboard=false --run-dir "$1" > /dev/null
}
joint runs/joint32 mnist32-captions 300
joint runs/joint-cifar10 cifar10-captions 2000
rates() {  # STYLEGAN JOINT
  OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/styleclip_rates.py \
    --stylegan "$1" --joint "$2" --data-root "$DATA" --sweep 0,0.008,0.03,0.1,0.3,1,3
}
strip() {  # STYLEGAN JOINT NAME PROMPT
  g edit "$1" --joint "$2" --text "$4" --seed 3 --steps 200 \
    -o "docs/samples/gans/styleclip-$3.png"
}
{
  echo "\$ bash benchmarks/styleclip_rates.sh"
  for j in runs/joint32 runs/joint-cifar10; do
    echo "== $j"; grep "zero-shot\|retrieval\|training loop" "$j/report.md"
  done
  echo; echo "== $MNIST"; rates "$MNIST" runs/joint32
  echo; echo "== $CIFAR"; rates "$CIFAR" runs/joint-cifar10
  echo; echo "== strips, seed 3, λ_L2 0.008"
  for p in "thicker:thicker" "thinner:thinner" "slanted-left:slanted left" \
           "slanted-right:slanted right" "seven:a handwritten seven"; do
    strip "$MNIST" runs/joint32 "${p%%:*}" "${p#*:}"
  done
  for p in "brighter:a brighter image" "darker:a darker image" "horse:make it a horse"; do
    strip "$CIFAR" runs/joint-cifar10 "${p%%:*}" "${p#*:}"
  done
} 2>&1 | tee benchmarks/results/styleclip_rates.txt
