#!/bin/bash
# Text2Image (Reed et al. 2016) on mnist-captions, the paper's four variants (Sec. 5):
# GAN (matching_aware=false interpolation=false), GAN-CLS, GAN-INT and GAN-INT-CLS, each
# for BUDGET CPU seconds (default 600) of one thread at the default settings, then
# `genzoo eval RUN --joint JOINT` on the test split's 1,000 captions (held-out templates):
# R-precision among 100 captions in a contrastive joint model of mnist-captions trained here
# for JOINT_BUDGET CPU seconds (default 300; reused when $OUT/joint exists), class and
# thickness/slant match by genzoo's classifier and the captions' own measurements, FID.
# Total: about JOINT_BUDGET + 4 x BUDGET CPU seconds, plus ~25 s of data loading and
# measuring per command. Run from the repository root; runs go to $OUT
# (runs/text2image-variants), the summary to $RESULTS.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
BUDGET=${BUDGET:-600}
JOINT_BUDGET=${JOINT_BUDGET:-300}
OUT=${OUT:-runs/text2image-variants}
RESULTS=${RESULTS:-benchmarks/results/text2image_variants.txt}
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
common="--data mnist-captions --set num_threads=1 --set tensorboard=false --set progress=false
        --set epochs=1000"
mkdir -p "$OUT" "$(dirname "$RESULTS")"
{
  echo "\$ BUDGET=$BUDGET JOINT_BUDGET=$JOINT_BUDGET bash benchmarks/text2image_variants.sh"
  if [ ! -f "$OUT/joint/model.safetensors" ]; then
    # shellcheck disable=SC2086
    g train contrastive $common --set cpu_budget="$JOINT_BUDGET" --run-dir "$OUT/joint" \
      > "$OUT/joint.log" 2>&1
  fi
  echo "joint model $OUT/joint:"
  grep "zero-shot\|retrieval" "$OUT/joint/report.md"
  for v in "gan:false:false" "gan-cls:true:false" "gan-int:false:true" "gan-int-cls:true:true"; do
    IFS=: read -r name cls int <<< "$v"
    # shellcheck disable=SC2086
    g train text2image $common --set matching_aware="$cls" --set interpolation="$int" \
      --set cpu_budget="$BUDGET" --run-dir "$OUT/$name" > "$OUT/$name.log" 2>&1
    echo
    echo "## $name: matching_aware=$cls interpolation=$int, $BUDGET CPU s"
    g eval "$OUT/$name" --joint "$OUT/joint"
  done
} | tee "$RESULTS"
