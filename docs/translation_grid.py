"""Test translations of several runs of one task side by side, for docs/results.md: one
example a row, the input, each run's output (one dropout draw, seed 0), then the target.

    python docs/translation_grid.py RUN [RUN ...] -n 8 -o docs/samples/translation/NAME.png

The runs must share their task's test split (e.g. edges2fashion and edges2fashion-unpaired
have the same test pairs); the first run's data and transform are used for all.
"""

from __future__ import annotations

import argparse

from genzoo.apps.translation import translate
from genzoo.io.images import save_grid, translation_rows
from genzoo.train.run import load_run, load_splits, translation_pairs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("-n", type=int, default=8, help="test examples (rows)")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--data-root")
    args = p.parse_args()
    runs = [load_run(r) for r in args.runs]
    first = runs[0]
    splits = load_splits(first.data_name, args.data_root, first.train_config)
    source, target = translation_pairs(splits, first.transform, "test", args.n)
    outputs = [translate(r.model, source, args.n) for r in runs]
    save_grid(translation_rows(first.transform.scale, source, *outputs, target), args.output,
              nrow=len(runs) + 2)  # fmt: skip
    print(f"wrote {args.output}: input | {' | '.join(r.model_name for r in runs)} | target")


if __name__ == "__main__":
    main()
