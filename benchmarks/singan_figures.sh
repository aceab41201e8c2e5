#!/bin/bash
# After benchmarks/singan_measures.sh: SinGAN's applications on its china run, each beside
# its input, for the docs (docs/samples/singan/): the training image; random samples;
# samples from scale 1 (the layout kept); samples twice as wide; paint-to-image (the image
# posterised to 4 levels per channel at 16 px, injected at scale 2); super-resolution x2;
# and a 24-frame animation. Run from the repository root.
set -eu
G=$(realpath "${GENZOO:-.venv/bin/genzoo}")
PY=${PYTHON:-.venv/bin/python}
DATA=$(realpath "${DATA_ROOT:-../shared/datasets}")
RUN=${RUN:-runs/singan-measures/china}
S=docs/samples/singan
mkdir -p "$S"
g() { OMP_NUM_THREADS=1 "$G" --data-root "$DATA" "$@"; }
RUN="$RUN" DATA="$DATA" S="$S" "$PY" - <<'PY'
import os

from PIL import Image

from genzoo.apps.single_image import training_image
from genzoo.io.images import save_grid
from genzoo.train.run import load_run

x = training_image(load_run(os.environ["RUN"]), os.environ["DATA"])
save_grid(x, f"{os.environ['S']}/china-input.png", nrow=1)
img = Image.open(f"{os.environ['S']}/china-input.png").convert("RGB")
paint = img.resize((24, 16), Image.BILINEAR).quantize(colors=12).convert("RGB")
paint.resize(img.size, Image.NEAREST).save(f"{os.environ['S']}/china-paint.png")
PY
g sample "$RUN" -n 4 --seed 0 -o "$S/china-samples.png"
g sample "$RUN" -n 4 --seed 0 --start-scale 1 -o "$S/china-from-scale-1.png"
g sample "$RUN" -n 2 --seed 0 --scale-x 2 -o "$S/china-wide.png"
g sample "$RUN" -n 2 --seed 0 --from "$S/china-paint.png" --start-scale 2 -o "$S/china-painted.png"
g sample "$RUN" --seed 0 --super-resolution 2 -o "$S/china-sr.png"
g sample "$RUN" --seed 0 --animate 24 -o "$S/china-walk.gif"
