#!/bin/bash
# The translation tasks beyond edges2fashion, each trained once for a stated CPU budget of
# one thread and judged on its test split:
#   pix2pix  on cifar10-colour          (grey -> colour, paired; 900 CPU s, width 16)
#   cyclegan on mnist2printed-unpaired  (handwritten -> printed, unpaired; 900 CPU s)
#   cyclegan on cat2dog-unpaired        (CIFAR-10 cats <-> dogs, no true pairs; 900 CPU s)
# (CycleGAN: width 16, 6 residual blocks, the 16x16 PatchGAN, as in cyclegan_ablation.sh.)
# Each report.md holds the test L1/PSNR (where true pairs exist) and the cycle errors;
# `genzoo eval` adds FID and the classifier's accuracy in the task's feature network;
# `genzoo translate --split test` writes each run's grid of input | output | target.
# Run from the repository root; the runs go to runs/translation-tasks/NAME, the output to
# benchmarks/results/translation_tasks.txt. ONLY="colour printed" picks tasks by NAME;
# SKIP_TRAIN=1 only judges runs that exist. Continue a run with
# `genzoo train --resume runs/translation-tasks/NAME --set cpu_budget=...`.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
OUT=$(realpath benchmarks/results)/translation_tasks.txt
BUDGET=${BUDGET:-900}
common="--set cpu_budget=$BUDGET --set num_threads=1 --set tensorboard=false
        --set progress=false --set epochs=1000"
cycle="--set width=16 --set n_blocks=6 --set d_layers=1"
mkdir -p runs/translation-tasks && cd runs/translation-tasks
echo "\$ ONLY=\"${ONLY:-colour printed cat2dog}\" bash benchmarks/translation_tasks.sh  (machine load: $(cut -d' ' -f1-3 /proc/loadavg))" > "$OUT"
for v in "colour:pix2pix --data cifar10-colour --set width=16" \
         "printed:cyclegan --data mnist2printed-unpaired $cycle" \
         "cat2dog:cyclegan --data cat2dog-unpaired $cycle"; do
  name=${v%%:*}; args=${v#*:}
  case " ${ONLY:-colour printed cat2dog} " in *" $name "*) ;; *) continue ;; esac
  if [ -z "${SKIP_TRAIN:-}" ]; then
    # shellcheck disable=SC2086
    OMP_NUM_THREADS=1 "$G" --data-root "$DATA" train $args $common --run-dir "$name" \
      > "$name.log" 2>&1
  fi
  {
    echo "== $name: genzoo train $args (cpu_budget=$BUDGET, one thread)"
    grep "^- stopped\|^- training loop\|^| test\|^Cycle reconstruction" "$name/report.md" || true
    OMP_NUM_THREADS=1 "$G" --data-root "$DATA" eval "$name"
    OMP_NUM_THREADS=1 "$G" --data-root "$DATA" translate "$name" --split test -n 16 \
      -o "$name/test-grid.png"
  } 2>&1 | tee -a "$OUT"
done
