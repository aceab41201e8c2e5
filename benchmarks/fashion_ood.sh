# Other-dataset OOD (issue 7), both directions, with the typicality test:
#   MNIST-trained NADE and VAE (runs/uses/*-all from benchmarks/mnist_uses.sh) against the
#   Fashion-MNIST test set, and a Fashion-MNIST-trained NADE against the MNIST test set
#   (the direction in which Nalisnick et al. 2019 found likelihoods fail).
# Both datasets binarised once with a fixed seed (binarize=static); 1 thread.
set -e
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
G=".venv/bin/genzoo --data-root ../shared/datasets"
OUT=runs/uses
[ -f $OUT/nade-fashion/report.md ] || $G train nade --data fashion-mnist --run-dir $OUT/nade-fashion --set epochs=10 --set batch_size=100 --set num_threads=1 --set progress=false > $OUT/nade-fashion.train.log 2>&1
for args in "$OUT/nade-all --ood fashion-mnist" "$OUT/vae-all --k 100 --ood fashion-mnist" "$OUT/nade-fashion --ood mnist"; do
  echo "### $G score $args --typicality"
  $G score $args --typicality -o /tmp/ood-scores.csv 2>&1
done
