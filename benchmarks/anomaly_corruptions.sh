# Anomaly scores of corrupted test sets for the binarised-MNIST NADE and VAE runs of
# docs/results.md: every corruption genzoo builds, with the typicality test.
mkdir -p /tmp/scores
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
G=".venv/bin/genzoo --data-root ../shared/datasets"
for run in nade-bmnist vae-bmnist; do
  for c in noise invert flip blur; do
    echo "### $G score runs/$run --ood corrupt:$c --typicality -o /tmp/scores/$run-$c.csv"
    $G score runs/$run --ood corrupt:$c --typicality -o /tmp/scores/$run-$c.csv 2>&1
  done
done
