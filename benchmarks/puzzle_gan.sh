#!/bin/bash
# Puzzle-GAN (Lee et al. 2018) on fashion-patches, with its mask branch and without it (the
# inpainting-style baseline, mask_branch=false), each for BUDGET CPU seconds of one thread
# (600 by default) at the default settings, then `genzoo eval` on the test split: patch L1
# at the true places (beside an all-black image's), image L1, mask IoU against the true
# places, and FID/KID of the images generated from the test patches against the test
# images (beside 10,000 real training images'), in genzoo's Fashion-MNIST feature network
# (trained once, about 4 CPU minutes, by the first report; cached in
# DATA_ROOT/genzoo-features/). Run from the repository root; runs go to
# runs/puzzle-gan/{masks,baseline}, the output to benchmarks/results/puzzle_gan.txt, and
# each run's assembled.png (the first 8 test images: patches | generated image | each
# patch's mask | real image, from its report) to
# docs/samples/gans/puzzle-gan{,-baseline}-assembled.png. PARALLEL=1 trains both at once
# (one thread each); SKIP_TRAIN=1 only judges the runs already there. Continue a run with `genzoo train --resume runs/puzzle-gan/NAME --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=$(realpath benchmarks/results)/puzzle_gan.txt
FIGURES=$(realpath docs/samples/gans)
BUDGET=${BUDGET:-600}
common="--data fashion-patches --set cpu_budget=$BUDGET --set num_threads=1
        --set tensorboard=false --set progress=false --set epochs=1000"
mkdir -p runs/puzzle-gan && cd runs/puzzle-gan
train() {  # NAME SETTINGS...
  local name=$1; shift
  # shellcheck disable=SC2086,SC2068
  OMP_NUM_THREADS=1 "$G" --data-root "$DATA" train puzzle-gan $common $@ --run-dir "$name" \
    > "$name.log" 2>&1
}
if [ -n "${SKIP_TRAIN:-}" ]; then
  :
elif [ -n "${PARALLEL:-}" ]; then
  train masks & train baseline --set mask_branch=false & wait
else
  train masks; train baseline --set mask_branch=false
fi
{
  echo "\$ ${SKIP_TRAIN:+SKIP_TRAIN=1 }BUDGET=$BUDGET bash benchmarks/puzzle_gan.sh"
  for name in masks baseline; do
    echo "== $name"
    grep "^- stopped\|^- training loop\|^- parameters" "$name/report.md" || true
    OMP_NUM_THREADS=1 "$G" --data-root "$DATA" eval "$name"
  done
} 2>&1 | tee "$OUT"
cp masks/assembled.png "$FIGURES/puzzle-gan-assembled.png"
cp baseline/assembled.png "$FIGURES/puzzle-gan-baseline-assembled.png"
