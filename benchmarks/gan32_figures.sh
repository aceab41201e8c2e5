#!/bin/bash
# After benchmarks/gan32_compare.sh: the StyleGAN figures for the docs and the measures
# beyond FID. Writes docs/samples/gans/stylegan-{growing,mixing,noise,truncation}.png,
# gan32-samples.png (16 samples each of dcgan | progan | stylegan) and
#   benchmarks/results/gan32_paper_metrics.txt  SWD, MS-SSIM, PPL (Z, W) of each run
#   benchmarks/results/stylegan_truncation.txt  FID, precision, recall as ψ goes 1 -> 0.5
# Run from the repository root, with OUT as for gan32_compare.sh (runs/gan32). PART picks
# one section: figures, truncation (both need only the stylegan run), metrics (all six,
# appended to $METRICS_OUT) or samples (only gan32-samples.png, to $SAMPLES). CIFAR-10:
#   OUT=runs/gan32-cifar10 PART=samples SAMPLES=docs/samples/gans/gan32-cifar10-samples.png \
#     bash benchmarks/gan32_figures.sh
#   OUT=runs/gan32-cifar10 PART=metrics NAMES="dcgan progan stylegan" \
#     METRICS_OUT=benchmarks/results/gan32_cifar10_paper_metrics.txt bash benchmarks/gan32_figures.sh
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
PY=${PYTHON:-.venv/bin/python}
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=${OUT:-runs/gan32}
N=${N:-2000}
PART=${PART:-all}
METRICS_OUT=${METRICS_OUT:-benchmarks/results/gan32_paper_metrics.txt}
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
S=docs/samples/gans
mkdir -p "$S"
if [ "$PART" = all ] || [ "$PART" = figures ]; then
"$PY" docs/side_by_side.py "$OUT"/strip/stylegan-{4,8,16,32}px.png -o "$S/stylegan-growing.png"
g sample "$OUT/stylegan" --mix-grid --seed 0 -o "$S/stylegan-mixing.png"
g sample "$OUT/stylegan" --noise-only -n 15 --seed 3 -o "$S/stylegan-noise.png"
for psi in 1 0.7 0.5 0; do
  g sample "$OUT/stylegan" -n 8 --seed 0 --truncation "$psi" -o "/tmp/truncation-$psi.png" >/dev/null
done
"$PY" docs/side_by_side.py /tmp/truncation-{1,0.7,0.5,0}.png -o "$S/stylegan-truncation.png"
fi
if [ "$PART" = all ] || [ "$PART" = figures ] || [ "$PART" = samples ]; then
for name in dcgan progan stylegan; do
  g sample "$OUT/$name" -n 16 --seed 0 -o "/tmp/gan32-$name.png" >/dev/null
done
"$PY" docs/side_by_side.py /tmp/gan32-{dcgan,progan,stylegan}.png -o "${SAMPLES:-$S/gan32-samples.png}"
fi
if [ "$PART" = all ] || [ "$PART" = metrics ]; then
# appended to the file, NAMES (default: all six runs) one after another
for name in ${NAMES:-dcgan progan stylegan stylegan-no-mapping stylegan-no-noise stylegan-no-mixing}; do
  echo "== $name"
  g eval "$OUT/$name" --metrics swd,msssim,ppl --n "$N" 2>&1 | grep -v "^  features" || true
done | tee -a "$METRICS_OUT"
fi
if [ "$PART" = all ] || [ "$PART" = truncation ]; then
for psi in 1 0.9 0.7 0.5; do
  echo "== stylegan, truncation ψ = $psi"
  g eval "$OUT/stylegan" --metrics fid,pr --n 5000 --option truncation="$psi" | grep "FID\|precision"
done | tee benchmarks/results/stylegan_truncation.txt
fi
