"""Watching a GAN train: a fixed-noise sample grid per epoch, and warnings for the two
classic failures, a discriminator that wins outright and samples that lose diversity.

Written to the run directory:
    progress/epoch-NNNN.png   the same 64 noise vectors decoded at the end of each epoch
                              (a translation model: the same validation inputs | their
                              translations | the targets, one pair a row)
    progress.gif              those grids in order
    progress/diversity.csv    per epoch: the entropy of the feature network's predicted
                              classes over 1,000 samples, and the largest class's share
    progress/warnings.txt     every warning

On the console each kind of warning is printed the first time it happens, and when
training ends once more with its count, so that a collapsing run does not flood it.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path

import torch

D_LOSS_COLLAPSE = 0.05  # mean discriminator loss over an epoch: D tells every sample apart
TOP_CLASS_SHARE = 0.5  # one predicted class in half of all samples: mode collapse


def class_entropy(classes: torch.Tensor, n_classes: int) -> tuple[float, float, float]:
    """(entropy of the predicted classes' shares in nats, its maximum log n_classes, the
    largest share). The maximum counts every class, also those no sample fell in."""
    share = torch.bincount(classes, minlength=n_classes).double() / len(classes)
    seen = share[share > 0]
    entropy = 0.0 - (seen * seen.log()).sum().item()  # 0.0 - : no -0.0
    return entropy, math.log(n_classes), share.max().item()


class SampleMonitor:
    def __init__(self, model, run_dir: Path, transform, steps_per_epoch: int, classifier=None,
                 name: str = "the model"):  # fmt: skip
        self.model, self.transform, self.classifier = model, transform, classifier
        self.dir, self.steps_per_epoch = Path(run_dir) / "progress", steps_per_epoch
        self.name = name
        self.d_losses: list[float] = []
        self.warned: Counter[str] = Counter()  # kind -> count
        self.last: dict[str, str] = {}  # kind -> its latest message

    def __call__(self, step: int, logs: dict) -> None:
        if "d_loss" in logs:
            self.d_losses.append(logs["d_loss"])
        if step % self.steps_per_epoch:
            return
        epoch = step // self.steps_per_epoch
        self.save_grid(self.dir / f"epoch-{epoch:04d}.png")
        if self.d_losses and sum(self.d_losses) / len(self.d_losses) < D_LOSS_COLLAPSE:
            mean = sum(self.d_losses) / len(self.d_losses)
            self.warn("discriminator collapse",
                      f"epoch {epoch}: the discriminator's loss collapsed to {mean:.4f}; "
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
        logits = self.classifier(self.samples(1000, 1))
        entropy, most, top = class_entropy(logits.argmax(1), logits.shape[1])
        path = self.dir / "diversity.csv"
        if not path.exists():
            path.write_text("epoch,class_entropy_nats,top_class_share\n")
        with path.open("a") as f:
            f.write(f"{epoch},{entropy:.4f},{top:.4f}\n")
        if top > TOP_CLASS_SHARE:
            k = int(logits.argmax(1).bincount().argmax())
            self.warn("mode collapse",
                      f"epoch {epoch}: {top:.0%} of samples look like class {k} (class "
                      f"entropy {entropy:.2f} of at most {most:.2f} nats): the generator may be "
                      "collapsing")  # fmt: skip

    def warn(self, kind: str, message: str) -> None:
        """Log every warning to warnings.txt; print the first of each kind."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "warnings.txt").open("a") as f:
            f.write(message + "\n")
        if not self.warned[kind]:
            print(f"genzoo: warning: {self.name}: {message}", file=sys.stderr)
        self.warned[kind] += 1
        self.last[kind] = message

    def summary(self) -> list[str]:
        """One line per kind of warning that repeated, with its count and latest message."""
        return [f"{self.name}: {kind} warned {count} times, the latest: {self.last[kind]} "
                f"(every one in {self.dir / 'warnings.txt'})"
                for kind, count in self.warned.items() if count > 1]  # fmt: skip

    def finish(self) -> None:
        from PIL import Image

        for line in self.summary():
            print(f"genzoo: warning: {line}", file=sys.stderr)

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


def diversity_classifier(data_name: str, data_root, enabled: bool = True):
    """The dataset's feature network for the diversity monitor, trained on first need
    (with a progress bar; then cached for `genzoo eval --metrics fid`), or None with a
    one-line note when the monitor is off or the data has no labels to train it on."""
    from genzoo.core.errors import GenzooError
    from genzoo.metrics.features import LABELLED_TWIN, SAME_CLASSES, SAME_IMAGES, feature_network

    if not enabled:
        return None
    name = LABELLED_TWIN.get(data_name, data_name)
    name = SAME_IMAGES.get(name, SAME_CLASSES.get(name, name))
    try:
        net, _ = feature_network(name, data_root, train_if_missing=False)
        return net
    except GenzooError:
        pass
    print(f"genzoo: the diversity monitor classifies samples with genzoo's {name} feature "
          "network; training it once (it is cached, and `genzoo eval --metrics fid` reuses "
          "it; --set diversity_monitor=false skips it)", file=sys.stderr)  # fmt: skip
    try:
        net, _ = feature_network(name, data_root)
    except GenzooError as e:
        print(f"genzoo: the diversity monitor is off: {e}", file=sys.stderr)
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
