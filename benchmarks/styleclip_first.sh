#!/bin/bash
# StyleCLIP's latent optimisation (`genzoo edit`) on the mnist32 StyleGAN of
# benchmarks/gan32_compare.sh, steered by a contrastive image-text model trained here for
# 300 steps on mnist32-captions; judged by oracles it never saw (genzoo's mnist32
# classifier, the Morpho-MNIST thickness and slant). Seed 3, 200 Adam steps, at the
# paper's λ_L2 = 0.008 (lr 0.1) and at λ_L2 = 0.3 (lr 0.02). Writes
# benchmarks/results/styleclip_first.txt and docs/samples/gans/stylegan-edit-*.png.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=${OUT:-runs/gan32}
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
[ -f runs/joint32/model.safetensors ] || g train contrastive --data mnist32-captions \
  --set max_steps=300 --set num_threads=1 --set progress=false --set tensorboard=false \
  --run-dir runs/joint32 > /dev/null
{
  echo "\$ bash benchmarks/styleclip_first.sh"
  grep "zero-shot\|retrieval" runs/joint32/report.md
  for setting in "thick-seven:a thick seven:0.008:0.1" "thick-seven-l2:a thick seven:0.3:0.02" \
                 "one:a handwritten one:0.008:0.1"; do
    IFS=: read -r name text l2 lr <<< "$setting"
    g edit "$OUT/stylegan" --joint runs/joint32 --text "$text" --seed 3 --steps 200 \
      --l2 "$l2" --lr "$lr" -o "docs/samples/gans/stylegan-edit-$name.png"
  done
} | tee benchmarks/results/styleclip_first.txt
