"""Watching a GAN train: a fixed-noise sample grid per epoch, and warnings for the two
classic failures, a discriminator that wins outright and samples that lose diversity.

Written to the run directory:
    progress/epoch-NNNN.png   the same 64 noise vectors decoded at the end of each epoch
                              (a translation model: the same validation inputs | their
                              translations | the targets, one pair a row)
    progress.gif              those grids in order
    progress/diversity.csv    per epoch: the entropy of the feature network's predicted
                              classes over 1,000 samples, and the largest class's share
    progress/warnings.txt     every warning, also printed to stderr as it happens
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch

D_LOSS_COLLAPSE = 0.05  # mean discriminator loss over an epoch: D tells every sample apart
TOP_CLASS_SHARE = 0.5  # one predicted class in half of all samples: mode collapse


class SampleMonitor:
    def __init__(self, model, run_dir: Path, transform, steps_per_epoch: int, classifier=None):
        self.model, self.transform, self.classifier = model, transform, classifier
        self.dir, self.steps_per_epoch = Path(run_dir) / "progress", steps_per_epoch
        self.d_losses: list[float] = []

    def __call__(self, step: int, logs: dict) -> None:
        if "d_loss" in logs:
            self.d_losses.append(logs["d_loss"])
        if step % self.steps_per_epoch:
            return
        epoch = step // self.steps_per_epoch
        self.save_grid(self.dir / f"epoch-{epoch:04d}.png")
        if self.d_losses and sum(self.d_losses) / len(self.d_losses) < D_LOSS_COLLAPSE:
            mean = sum(self.d_losses) / len(self.d_losses)
            self.warn(f"epoch {epoch}: the discriminator's loss collapsed to {mean:.4f}; "
                      "D rejects every sample and G's gradient vanishes")  # fmt: skip
        self.d_losses = []
        if self.classifier is not None:
            self.check_diversity(epoch)

    @torch.no_grad()
    def samples(self, n: int, seed: int) -> torch.Tensor:
        from genzoo.io.images import to_unit_range

        was_training = self.model.training
        self.model.eval()
        x = self.model.sample(n, generator=torch.Generator().manual_seed(seed))
        self.model.train(was_training)
        return to_unit_range(x, self.model.data.n_values, self.transform.scale).cpu()

    def save_grid(self, path: Path) -> None:
        from genzoo.io.images import save_grid

        save_grid(self.samples(64, 0), path)

    def check_diversity(self, epoch: int) -> None:
        classes = self.classifier(self.samples(1000, 1)).argmax(1)
        share = torch.bincount(classes).float() / len(classes)
        entropy = 0.0 - (share[share > 0] * share[share > 0].log()).sum().item()  # no -0.0
        path = self.dir / "diversity.csv"
        if not path.exists():
            path.write_text("epoch,class_entropy_nats,top_class_share\n")
        with path.open("a") as f:
            f.write(f"{epoch},{entropy:.4f},{share.max().item():.4f}\n")
        if share.max() > TOP_CLASS_SHARE:
            k = int(share.argmax())
            self.warn(f"epoch {epoch}: {share.max():.0%} of samples look like class {k} "
                      f"(class entropy {entropy:.2f} of at most {math.log(len(share)):.2f} "
                      "nats): the generator may be collapsing")  # fmt: skip

    def warn(self, message: str) -> None:
        print(f"genzoo: warning: {message}", file=sys.stderr)
        with (self.dir / "warnings.txt").open("a") as f:
            f.write(message + "\n")

    def finish(self) -> None:
        from PIL import Image

        frames = [Image.open(p) for p in sorted(self.dir.glob("epoch-*.png"))]
        if frames:
            frames[0].save(self.dir.parent / "progress.gif", save_all=True,
                           append_images=frames[1:], duration=400, loop=0)  # fmt: skip


class TranslationMonitor(SampleMonitor):
    """SampleMonitor for a translation model: each epoch's grid translates the same inputs
    with the same dropout draw, beside their targets."""

    def __init__(self, model, run_dir: Path, transform, steps_per_epoch: int, source, target):
        super().__init__(model, run_dir, transform, steps_per_epoch, classifier=None)
        self.source, self.target = source, target

    def save_grid(self, path: Path) -> None:
        from genzoo.io.images import save_grid, translation_rows

        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            y = self.model.translate(self.source, generator=torch.Generator().manual_seed(0))
        self.model.train(was_training)
        rows = translation_rows(self.transform.scale, self.source, y.cpu(), self.target)
        save_grid(rows, path, nrow=3)


def cached_classifier(data_name: str, data_root):
    """The dataset's feature network if genzoo has trained it already, else None (training
    one mid-run would stall the run: `genzoo eval RUN --metrics fid` trains it once)."""
    from genzoo.core.errors import GenzooError
    from genzoo.metrics.features import LABELLED_TWIN, feature_network

    try:
        net, _ = feature_network(LABELLED_TWIN.get(data_name, data_name), data_root,
                                 train_if_missing=False)  # fmt: skip
    except GenzooError:
        return None
    return net


class FIDSelector:
    """`select_by=fid`: the FID of n samples against the first n validation images, in
    genzoo's feature network for the dataset (the one `genzoo eval --metrics fid` uses),
    with a fixed sampling seed; lower is better. A selector for `genzoo.train.fit`."""

    key = "fid"

    def __init__(self, net, valid, model, transform, n: int, data_name: str):
        from genzoo.io.images import to_unit_range
        from genzoo.metrics.quality import embed

        self.net, self.transform, self.n = net, transform, n
        real = to_unit_range(valid[:n], model.data.n_values, transform.scale)
        self.real = embed(net, real)[0]
        self.name = (f"FID of {n:,} samples against {len(real):,} validation images in "
                     f"genzoo's {data_name} feature network")  # fmt: skip

    @torch.no_grad()
    def __call__(self, model) -> float:
        from genzoo.io.images import to_unit_range
        from genzoo.metrics.quality import embed, fid

        was_training = model.training
        model.eval()
        x = model.sample(self.n, generator=torch.Generator().manual_seed(0))
        model.train(was_training)
        fake = to_unit_range(x, model.data.n_values, self.transform.scale).cpu()
        return fid(self.real, embed(self.net, fake)[0])
