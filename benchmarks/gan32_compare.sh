#!/bin/bash
# DCGAN, ProGAN and StyleGAN on mnist32 (MNIST padded to 32x32) at an equal CPU budget, and
# StyleGAN's Table 1 ablations (no mapping network, no noise inputs, no mixing), each for
# BUDGET CPU seconds of one thread (450 by default; the issue suggests 3600). ProGAN and
# StyleGAN are scaled down for the CPU: z and w of 128, at most 64 channels (channel_base
# 512: 64, 64, 32, 16 channels at 4, 8, 16, 32 px), 6,000 real images per phase (the paper:
# 800k), batch 64, and samples from an average of G's weights with decay 0.99 (the paper's
# 0.999 averages over ~1,000 steps: after a run of ~1,000 it still holds the early weights).
# StyleGAN is trained in segments that end where each resolution's stable phase ends, and
# samples at each end make the progressive-growing strip.
# Then each run's samples are measured against the mnist32 test split in genzoo's mnist32
# feature network: FID, KID, precision/recall (--n N, 5000 by default).
# Run from the repository root; runs go to $OUT (runs/gan32 by default), the table to
# $RESULT (benchmarks/results/gan32_compare.txt). DATA_NAME picks the data (mnist32 by
# default; cifar10 is 32x32 too) and ABLATIONS=0 trains only the three models. CIFAR-10:
#   DATA_NAME=cifar10 OUT=runs/gan32-cifar10 ABLATIONS=0 \
#     RESULT=benchmarks/results/gan32_cifar10.txt bash benchmarks/gan32_compare.sh
# Continue a run with
# `genzoo train --resume $OUT/NAME --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=${OUT:-runs/gan32}
DATA_NAME=${DATA_NAME:-mnist32}
RESULT=${RESULT:-benchmarks/results/gan32_compare.txt}
NAMES="dcgan progan stylegan"
if [ "${ABLATIONS:-1}" = 1 ]; then
  NAMES="$NAMES stylegan-no-mapping stylegan-no-noise stylegan-no-mixing"
fi
BUDGET=${BUDGET:-450}
N=${N:-5000}
quiet="--set num_threads=1 --set tensorboard=false --set progress=false --set batch_size=64"
grow="--set latent_dim=128 --set max_channels=64 --set channel_base=512
      --set images_per_phase=6000 --set ema_decay=0.99"
style="$grow --set w_dim=128"
mkdir -p "$OUT"
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
train() {  # NAME MODEL SETTINGS...
  local name=$1 model=$2; shift 2
  if [ -f "$OUT/$name/model.safetensors" ]; then echo "$name: trained"; return; fi
  # shellcheck disable=SC2068
  g train "$model" --data "$DATA_NAME" $quiet $@ --set cpu_budget="$BUDGET" --set epochs=1000 \
    --run-dir "$OUT/$name" > "$OUT/$name.log" 2>&1
  grep "training loop" "$OUT/$name/report.md" | sed "s/^/$name /"
}
# StyleGAN in segments: stable 4x4 ends at 6,000 images (step 94 of batch 64), 8x8 at 18,000
# (282), 16x16 at 30,000 (469); a sample grid at each end, then the rest of the budget.
if [ ! -f "$OUT/stylegan/model.safetensors" ]; then
  mkdir -p "$OUT/strip"
  # shellcheck disable=SC2086
  g train stylegan --data "$DATA_NAME" $quiet $style --set cpu_budget="$BUDGET" --set epochs=1000 \
    --set max_steps=94 --run-dir "$OUT/stylegan" > "$OUT/stylegan.log" 2>&1
  for segment in 4:282 8:469 16:; do  # the resolution reached : the next end
    g sample "$OUT/stylegan" -n 8 --seed 0 -o "$OUT/strip/stylegan-${segment%%:*}px.png" >/dev/null
    # cpu_budget counts one session: the last one gets what the earlier ones left
    used=$(grep -o "all sessions: [0-9]*" "$OUT/stylegan/report.md" | grep -o "[0-9]*$")
    end=${segment#*:}
    if [ "$used" -ge "$BUDGET" ]; then break; fi
    g train --resume "$OUT/stylegan" --set max_steps="${end:-1000000}" \
      --set cpu_budget=$((BUDGET - used)) >> "$OUT/stylegan.log" 2>&1
  done
  g sample "$OUT/stylegan" -n 8 --seed 0 -o "$OUT/strip/stylegan-32px.png" > /dev/null
fi
# shellcheck disable=SC2086
train dcgan dcgan
train progan progan $grow
if [ "${ABLATIONS:-1}" = 1 ]; then
  train stylegan-no-mapping stylegan $style --set n_mapping=0
  train stylegan-no-noise stylegan $style --set noise_inputs=false
  train stylegan-no-mixing stylegan $style --set mixing_prob=0
fi
for name in $NAMES; do
  echo "== $name"
  grep "training loop" "$OUT/$name/report.md" || true
  g eval "$OUT/$name" --metrics fid,kid,pr --n "$N" | grep -v "^  features\|samples vs" || true
done | tee "$RESULT"
