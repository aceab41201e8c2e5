# The three uses on labelled MNIST (issue 7): leave-one-class-out anomaly detection,
# corruptions, and linear probes, for NADE and VAE.
#   For each digit c: train on the other nine (--set exclude_classes=c, every split), then
#   score the test set: OOD = test images of c, in = test images of the other nine.
#   Then one run of each on all ten digits: corruptions of its test set, and probes.
# Data: MNIST (50k train / 10k valid from the official 60k, the official 10k test),
# binarised once with a fixed seed (binarize=static); 1 thread throughout.
# Usage: bash benchmarks/mnist_uses.sh [CLASSES] [MODELS]   (default "0 1 ... 9" "nade vae")
# Two workers with disjoint arguments can share a machine. Finished trainings are reused,
# interrupted ones resumed.
# Output: runs/uses/*.log; the tables: .venv/bin/python benchmarks/summarize_uses.py
set -e
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
CLASSES=${1:-"0 1 2 3 4 5 6 7 8 9"}
MODELS=${2-"nade vae"}
G=".venv/bin/genzoo --data-root ../shared/datasets"
OUT=runs/uses
mkdir -p $OUT
NADE="--set epochs=10 --set batch_size=100 --set num_threads=1 --set progress=false"
VAE="--set epochs=30 --set batch_size=100 --set num_threads=1 --set progress=false"
train() {  # model run-dir settings...
  local model=$1 dir=$2; shift 2
  if [ -f $dir/report.md ]; then return; fi
  if [ -f $dir/checkpoint.safetensors ]; then  # interrupted: continue it
    $G train --resume $dir --set progress=false >> $dir.train.log 2>&1
  else
    $G train $model --data mnist --run-dir $dir "$@" > $dir.train.log 2>&1
  fi
}
for c in $CLASSES; do
  train nade $OUT/nade-without-$c $NADE --set exclude_classes=$c
  $G score $OUT/nade-without-$c --ood-classes $c --typicality -o $OUT/nade-without-$c.csv > $OUT/nade-without-$c.score.log 2>&1
  train vae $OUT/vae-without-$c $VAE --set exclude_classes=$c
  $G score $OUT/vae-without-$c --k 100 --ood-classes $c -o $OUT/vae-without-$c.csv > $OUT/vae-without-$c.score.log 2>&1
done
for m in $MODELS; do
  if [ $m = nade ]; then train nade $OUT/nade-all $NADE; k=""; else train vae $OUT/vae-all $VAE; k="--k 100"; fi
  for corruption in noise invert flip blur; do
    $G score $OUT/$m-all $k --ood corrupt:$corruption --typicality -o $OUT/$m-all-$corruption.csv > $OUT/$m-all-$corruption.score.log 2>&1
  done
  for n in 10 100; do
    $G probe $OUT/$m-all --labels-per-class $n > $OUT/$m-all.probe$n.log 2>&1
  done
done
