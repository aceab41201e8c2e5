#!/bin/bash
# SinGAN (Shaham et al. 2019) Sec. 5's measures on the three bundled photographs
# (image:china, image:flower, image:grace_hopper; longer side 128 px by default): each
# trained with STEPS iterations per scale (default 200; the paper: 2000) on one CPU thread,
# then SIFID and diversity of N samples (default 50) generated from the coarsest scale (0,
# the paper's N) and from scale 1 (N-1), the reconstruction PSNR, and the CPU seconds each
# scale's training took. The table goes to RESULT (benchmarks/results/singan_measures.txt).
# At the defaults a run of china costs about 15-20 CPU minutes (about 4.7 CPU s per
# iteration summed over its 6 scales, measured with 5 iterations a scale), so the three
# take about an hour, plus a few minutes once to train genzoo's CIFAR-10 feature network
# (cached under DATA_ROOT/genzoo-features).
#
# Run from the repository root. Environment: STEPS, N, OUT (runs/singan-measures),
# RESULT, PYTHON (.venv/bin/python), DATA_ROOT (../shared/datasets), INCEPTION (a
# .safetensors file of the FID Inception-v3: SIFID in the authors' layer instead), SETS
# (extra training overrides), METRICS (sifid,diversity,reconstruction). A quick check,
# without training the feature network:
#   STEPS=3 N=3 SETS="--set width=4 --set n_blocks=3 --set min_size=8" \
#     METRICS=diversity,reconstruction OUT=/tmp/sg RESULT=/tmp/sg.txt \
#     benchmarks/singan_measures.sh
# A run with a report.md in OUT is measured again, not retrained.
set -eu
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1
STEPS=${STEPS:-200}
N=${N:-50}
SETS=${SETS:-}
METRICS=${METRICS:-sifid,diversity,reconstruction}
OUT=${OUT:-runs/singan-measures}
RESULT=${RESULT:-benchmarks/results/singan_measures.txt}
PY=${PYTHON:-.venv/bin/python}
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
genzoo() { "$PY" -c "import sys; from genzoo.cli import run; sys.exit(run())" "$@"; }
mkdir -p "$OUT" "$(dirname "$RESULT")"
for image in china flower grace_hopper; do
  [ -f "$OUT/$image/report.md" ] && continue
  # shellcheck disable=SC2086
  genzoo --data-root "$DATA" train singan --data "image:$image" --run-dir "$OUT/$image" \
    --set steps_per_scale="$STEPS" --set num_threads=1 --set progress=false \
    --set tensorboard=false $SETS > "$OUT/$image.train.log" 2>&1
done
COMMAND="STEPS=$STEPS N=$N SETS=\"$SETS\" METRICS=$METRICS benchmarks/singan_measures.sh" \
  OUT="$OUT" N="$N" DATA="$DATA" METRICS="$METRICS" INCEPTION="${INCEPTION:-}" "$PY" - > "$RESULT" <<'EOF'
import os
import sys

import torch

sys.path.insert(0, "benchmarks")
from common import cpu_model  # noqa: E402

from genzoo.apps.single_image import measure  # noqa: E402
from genzoo.train.run import load_run  # noqa: E402

out, n, data = os.environ["OUT"], int(os.environ["N"]), os.environ["DATA"]
inception = os.environ["INCEPTION"] or None
metrics = os.environ["METRICS"].split(",")
print(f"$ {os.environ['COMMAND']}")
print(f"torch {torch.__version__}, 1 thread, CPU: {cpu_model()}")
rows, features = [], None
for image in ("china", "flower", "grace_hopper"):
    run = load_run(f"{out}/{image}")
    model = run.model
    r = measure(run, metrics, n, 0, (0, 1), data, inception)
    features = r["features"]
    cpu = model.cpu_seconds.tolist()
    h, w = model.data.shape[1:]
    for row in r["rows"] or [{"start_scale": "-"}]:
        rows.append([image, f"{h}x{w}", str(model.n_scales), str(row["start_scale"]),
                     *(f"{row[m]:.4f}" if m in row else "-" for m in ("sifid", "diversity")),
                     f"{r.get('reconstruction_psnr', float('nan')):.2f}", f"{sum(cpu):.1f}",
                     " ".join(f"{s:.1f}" for s in cpu)])
    print(f"{image}: {run.protocol}; steps_per_scale {model.config.steps_per_scale}, "
          f"width {model.config.width}")
print(f"samples: {n} per start scale (seed 0); SIFID features: {features}")
print("start scale 0 = the coarsest (the paper's N), 1 = the paper's N-1; diversity: the "
      "per-pixel std over the samples, averaged, / the training image's std; PSNR of the z* "
      "reconstruction in [0, 1]; CPU s: process CPU time of each scale's training steps, "
      "coarsest first. The paper's Table 2 numbers (Places images, Inception) are not "
      "comparable with these.")
header = ["image", "size", "scales", "start", "SIFID", "diversity", "rec PSNR dB",
          "CPU s", "CPU s per scale"]
widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
for line in [header, *rows]:
    print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
EOF
cat "$RESULT"
