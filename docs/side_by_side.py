"""Images side by side, for docs figures made of several grids (e.g. a progressive-growing
strip from the samples at each resolution):

    python docs/side_by_side.py a.png b.png c.png -o out.png [--gap 4]

Each image keeps its size; they are top-aligned on a grey background."""

from __future__ import annotations

import argparse

from PIL import Image


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="+")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--gap", type=int, default=4)
    args = p.parse_args()
    images = [Image.open(path).convert("RGB") for path in args.images]
    width = sum(im.width for im in images) + args.gap * (len(images) - 1)
    canvas = Image.new("RGB", (width, max(im.height for im in images)), (128, 128, 128))
    x = 0
    for im in images:
        canvas.paste(im, (x, 0))
        x += im.width + args.gap
    canvas.save(args.output)
    print(f"wrote {args.output} ({len(images)} images)")


if __name__ == "__main__":
    main()
