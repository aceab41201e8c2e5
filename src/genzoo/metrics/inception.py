"""Standard FID features: the FID variant of Inception-v3, with weights the user supplies.

FID as published (Heusel et al. 2017, arXiv:1706.08500) compares the 2048-d pool3 features
of the Inception-v3 network (Szegedy et al., "Rethinking the Inception Architecture for
Computer Vision", CVPR 2016, arXiv:1512.00567) in TensorFlow's graph of 2015-12-05. This is
that network as ported by pytorch-fid and torch-fidelity, written out here with the same
parameter names, so that their weight file loads into it unchanged. It differs from
torchvision's ImageNet Inception-v3 in its weights and in three places of the graph:
    average pools inside Mixed_5b-d, 6b-e and 7b ignore the zero padding
        (count_include_pad=False),
    Mixed_7c pools its fourth branch with a max pool instead of an average pool,
    the classifier has 1008 outputs (1000 ImageNet classes and 8 unused ones), no aux head.
Every convolution has no bias and is followed by BatchNorm (eps 0.001) and a ReLU.
Inputs (N, C, H, W) in [0, 1], C = 1 (repeated to RGB) or 3, are resized to 299x299
(bilinear, align_corners=False, as pytorch-fid does; TensorFlow's resize, which
torch-fidelity reproduces, differs slightly) and scaled to [-1, 1]; the features are the
global average of Mixed_7c's 8x8x2048 output. For the Inception Score the classifier gives
the unbiased logits pool3 · W_fcᵀ, and p(y|x) is their softmax over all 1008 outputs, as in
Salimans et al.'s original code and torch-fidelity.

Weights. genzoo ships no weights and never unpickles a file, so the user converts the
standard file once, in an environment they trust. Download pytorch-fid's release file
https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth
and run this in Python (CONVERT holds it as a one-liner, which genzoo also prints when it
is given the .pth):
    import torch
    from safetensors.torch import save_file
    state = torch.load("pt_inception-2015-12-05-6726825d.pth", weights_only=True)
    save_file({k: v.contiguous() for k, v in state.items()}, "pt_inception-2015-12-05.safetensors")
and pass the .safetensors file with `genzoo eval RUN --metrics fid,kid --inception FILE`.
Only FID through these weights, on RGB images of CIFAR-10's kind, with the paper's sample
counts and reference set, is comparable with FIDs in papers; numbers from genzoo's own
feature network (`genzoo.metrics.features`) are comparable with neither.

The network is identified by a sha256 of its tensors (names, dtypes, shapes and bytes, any
num_batches_tracked left out), not of the file, so two conversions of one .pth agree.
`write_stand_in` writes a random file with the real names and shapes, for tests and for
trying the commands; its metadata marks it, and reports say so.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.core.errors import GenzooError

STANDARD_FILE = "pt_inception-2015-12-05-6726825d.pth"


def conversion(src: str | Path, dst: str | Path) -> str:
    """The Python one-liner that converts a trusted .pth state dict to safetensors."""
    return (
        "import torch; from safetensors.torch import save_file; "
        f"save_file({{k: v.contiguous() for k, v in torch.load({str(src)!r}, "
        f"weights_only=True).items()}}, {str(dst)!r})"
    )


CONVERT = conversion(STANDARD_FILE, "pt_inception-2015-12-05.safetensors")
STAND_IN_FORMAT = "genzoo-inception-stand-in/1"
INPUT_SIZE = 299
NUM_FEATURES = 2048
NUM_LOGITS = 1008


class ConvBN(nn.Module):
    """conv (no bias) → BatchNorm (eps 0.001) → ReLU: every layer of the network."""

    def __init__(self, c_in: int, c_out: int, kernel_size, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, stride, padding, bias=False)
        self.bn = nn.BatchNorm2d(c_out, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg_pool(x: Tensor) -> Tensor:
    """3x3 average over the unpadded neighbours only, as in TensorFlow."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


def _chain(x: Tensor, *layers: nn.Module) -> Tensor:
    for layer in layers:
        x = layer(x)
    return x


class MixedA(nn.Module):
    """35x35 block (Mixed_5b-d): 1x1 | 1x1→5x5 | 1x1→3x3→3x3 | pool→1x1."""

    def __init__(self, c_in: int, pool_features: int):
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5_1 = ConvBN(c_in, 48, 1)
        self.branch5x5_2 = ConvBN(48, 64, 5, padding=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, padding=1)
        self.branch_pool = ConvBN(c_in, pool_features, 1)

    def forward(self, x: Tensor) -> Tensor:  # 64 + 64 + 96 + pool_features channels
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch5x5_1, self.branch5x5_2),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            self.branch_pool(_avg_pool(x)),
        ], 1)  # fmt: skip


class ReductionB(nn.Module):
    """35x35 → 17x17 (Mixed_6a): 3x3/2 | 1x1→3x3→3x3/2 | max pool/2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl_1 = ConvBN(c_in, 64, 1)
        self.branch3x3dbl_2 = ConvBN(64, 96, 3, padding=1)
        self.branch3x3dbl_3 = ConvBN(96, 96, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:  # 384 + 96 + c_in channels
        return torch.cat([
            self.branch3x3(x),
            _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2, self.branch3x3dbl_3),
            F.max_pool2d(x, 3, stride=2),
        ], 1)  # fmt: skip


class MixedC(nn.Module):
    """17x17 block (Mixed_6b-e) with factorised 7x7s: 1x1 | 1x7, 7x1 | two 7x1, 1x7 | pool."""

    def __init__(self, c_in: int, c7: int):
        super().__init__()
        row, col = (
            dict(kernel_size=(1, 7), padding=(0, 3)),
            dict(kernel_size=(7, 1), padding=(3, 0)),
        )
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7_1 = ConvBN(c_in, c7, 1)
        self.branch7x7_2 = ConvBN(c7, c7, **row)
        self.branch7x7_3 = ConvBN(c7, 192, **col)
        self.branch7x7dbl_1 = ConvBN(c_in, c7, 1)
        self.branch7x7dbl_2 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_3 = ConvBN(c7, c7, **row)
        self.branch7x7dbl_4 = ConvBN(c7, c7, **col)
        self.branch7x7dbl_5 = ConvBN(c7, 192, **row)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:  # 4 x 192 = 768 channels
        double = (self.branch7x7dbl_1, self.branch7x7dbl_2, self.branch7x7dbl_3,
                  self.branch7x7dbl_4, self.branch7x7dbl_5)  # fmt: skip
        return torch.cat([
            self.branch1x1(x),
            _chain(x, self.branch7x7_1, self.branch7x7_2, self.branch7x7_3),
            _chain(x, *double),
            self.branch_pool(_avg_pool(x)),
        ], 1)  # fmt: skip


class ReductionD(nn.Module):
    """17x17 → 8x8 (Mixed_7a): 1x1→3x3/2 | 1x1→1x7→7x1→3x3/2 | max pool/2."""

    def __init__(self, c_in: int):
        super().__init__()
        self.branch3x3_1 = ConvBN(c_in, 192, 1)
        self.branch3x3_2 = ConvBN(192, 320, 3, stride=2)
        self.branch7x7x3_1 = ConvBN(c_in, 192, 1)
        self.branch7x7x3_2 = ConvBN(192, 192, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = ConvBN(192, 192, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = ConvBN(192, 192, 3, stride=2)

    def forward(self, x: Tensor) -> Tensor:  # 320 + 192 + c_in channels
        return torch.cat([
            _chain(x, self.branch3x3_1, self.branch3x3_2),
            _chain(x, self.branch7x7x3_1, self.branch7x7x3_2, self.branch7x7x3_3,
                   self.branch7x7x3_4),
            F.max_pool2d(x, 3, stride=2),
        ], 1)  # fmt: skip


class MixedE(nn.Module):
    """8x8 block (Mixed_7b, 7c) whose 3x3s split into parallel 1x3 and 3x1 outputs.

    pool: "avg" (Mixed_7b) or "max" (Mixed_7c, a quirk of the 2015 graph that FID keeps).
    """

    def __init__(self, c_in: int, pool: str):
        super().__init__()
        self.pool = pool
        row, col = (
            dict(kernel_size=(1, 3), padding=(0, 1)),
            dict(kernel_size=(3, 1), padding=(1, 0)),
        )
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3_1 = ConvBN(c_in, 384, 1)
        self.branch3x3_2a = ConvBN(384, 384, **row)
        self.branch3x3_2b = ConvBN(384, 384, **col)
        self.branch3x3dbl_1 = ConvBN(c_in, 448, 1)
        self.branch3x3dbl_2 = ConvBN(448, 384, 3, padding=1)
        self.branch3x3dbl_3a = ConvBN(384, 384, **row)
        self.branch3x3dbl_3b = ConvBN(384, 384, **col)
        self.branch_pool = ConvBN(c_in, 192, 1)

    def forward(self, x: Tensor) -> Tensor:  # 320 + 768 + 768 + 192 = 2048 channels
        a = self.branch3x3_1(x)
        b = _chain(x, self.branch3x3dbl_1, self.branch3x3dbl_2)
        pooled = _avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, 3, stride=1, padding=1)
        return torch.cat([
            self.branch1x1(x),
            self.branch3x3_2a(a), self.branch3x3_2b(a),
            self.branch3x3dbl_3a(b), self.branch3x3dbl_3b(b),
            self.branch_pool(pooled),
        ], 1)  # fmt: skip


class InceptionV3(nn.Module):
    """The FID Inception-v3 (see the module docstring), always in eval mode.

    `features(x)` is pool3, (B, 2048), for x (B, 1 or 3, H, W) in [0, 1]; `classifier(f)`
    the unbiased logits (B, 1008). `sha256` and `stand_in` are set by `load_inception`.
    """

    num_features = NUM_FEATURES
    batch_size = 50  # images per forward pass: each is resized to 299x299

    def __init__(self):
        super().__init__()
        self.sha256: str | None = None
        self.stand_in = False
        self.Conv2d_1a_3x3 = ConvBN(3, 32, 3, stride=2)  # 299 → 149
        self.Conv2d_2a_3x3 = ConvBN(32, 32, 3)  # → 147
        self.Conv2d_2b_3x3 = ConvBN(32, 64, 3, padding=1)  # then max pool → 73
        self.Conv2d_3b_1x1 = ConvBN(64, 80, 1)
        self.Conv2d_4a_3x3 = ConvBN(80, 192, 3)  # → 71, then max pool → 35
        self.Mixed_5b = MixedA(192, pool_features=32)  # → 256 channels
        self.Mixed_5c = MixedA(256, pool_features=64)  # → 288
        self.Mixed_5d = MixedA(288, pool_features=64)  # → 288
        self.Mixed_6a = ReductionB(288)  # → 768 x 17 x 17
        self.Mixed_6b = MixedC(768, c7=128)
        self.Mixed_6c = MixedC(768, c7=160)
        self.Mixed_6d = MixedC(768, c7=160)
        self.Mixed_6e = MixedC(768, c7=192)
        self.Mixed_7a = ReductionD(768)  # → 1280 x 8 x 8
        self.Mixed_7b = MixedE(1280, pool="avg")  # → 2048
        self.Mixed_7c = MixedE(2048, pool="max")
        self.fc = nn.Linear(NUM_FEATURES, NUM_LOGITS)
        self.eval()

    def train(self, mode: bool = True) -> InceptionV3:
        return super().train(False)  # BatchNorm must keep its running statistics

    def input_mismatch(self, x: Tensor) -> str | None:
        """None if x is a batch this network takes (any size: it resizes), else what it takes."""
        return None if x.ndim == 4 and x.shape[1] in (1, 3) else "(N, 1 or 3, H, W)"

    def features(self, x: Tensor) -> Tensor:
        """pool3, (B, 2048), of images (B, 1 or 3, H, W) in [0, 1]."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = _chain(x, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        x = _chain(F.max_pool2d(x, 3, stride=2), self.Conv2d_3b_1x1, self.Conv2d_4a_3x3)
        x = F.max_pool2d(x, 3, stride=2)
        x = _chain(x, self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b,
                   self.Mixed_6c, self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b,
                   self.Mixed_7c)  # fmt: skip
        return x.mean((2, 3))

    def early_features(self, x: Tensor) -> Tensor:
        """The 64-channel map after the first max pool (pytorch-fid's block 0, which the
        SinGAN authors' SIFID code takes, dims=64), of x (B, 1 or 3, H, W) in [0, 1] at
        its own size, not resized to 299: (B, 64, ≈H/4, ≈W/4)."""
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = _chain(2 * x - 1, self.Conv2d_1a_3x3, self.Conv2d_2a_3x3, self.Conv2d_2b_3x3)
        return F.max_pool2d(x, 3, stride=2)

    def classifier(self, f: Tensor) -> Tensor:
        """The unbiased logits f · W_fcᵀ, (B, 1008), that the Inception Score's softmax takes."""
        return f @ self.fc.weight.T

    def forward(self, x: Tensor) -> Tensor:
        return self.features(x)


def _is_tracked_count(key: str) -> bool:
    return key.endswith("num_batches_tracked")


def expected_shapes() -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor in the standard weights (num_batches_tracked left out)."""
    with torch.device("meta"):
        net = InceptionV3()
    return {k: tuple(v.shape) for k, v in net.state_dict().items() if not _is_tracked_count(k)}


def _pickle_message(path: Path) -> str:
    command = conversion(path, path.with_suffix(".safetensors"))
    return (
        f"{path} is a PyTorch pickle (.pth), and genzoo never unpickles a file: convert it "
        f'yourself, where you trust it, with: python -c "{command}"'
    )


def _read_checked(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    """The tensors of a safetensors file with exactly the standard names and shapes."""
    from safetensors import SafetensorError
    from safetensors.torch import safe_open

    if not path.exists():
        raise GenzooError(f"{path} not found: give the Inception weights as a .safetensors file")
    if not path.is_file():
        raise GenzooError(
            f"{path} is not a file: give the Inception weights as a .safetensors file"
        )
    with open(path, "rb") as f:
        head = f.read(4)
    if head.startswith(b"PK\x03\x04") or head[:1] == b"\x80":  # torch.save's zip, or a pickle
        raise GenzooError(_pickle_message(path))
    expected = expected_shapes()
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
            names = [k for k in f.keys() if not _is_tracked_count(k)]  # noqa: SIM118
            missing = sorted(expected.keys() - set(names))
            unexpected = sorted(set(names) - expected.keys())
            what = "is not the FID Inception-v3 (pt_inception-2015-12-05)"
            if missing:
                raise GenzooError(f"{path} {what}: it lacks {missing[0]} "
                                  f"({len(missing)} tensors missing)")  # fmt: skip
            if unexpected:
                raise GenzooError(f"{path} {what}: it holds {unexpected[0]}, which that network "
                                  f"lacks ({len(unexpected)} such tensors)")  # fmt: skip
            for key in sorted(names):
                shape = tuple(f.get_slice(key).get_shape())
                if shape != expected[key]:
                    raise GenzooError(f"{path} {what}: {key} has shape {shape}, "
                                      f"expected {expected[key]}")  # fmt: skip
            tensors = {key: f.get_tensor(key) for key in names}
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GenzooError(f"{path} is not a valid safetensors file ({reason})") from None
    return tensors, metadata


def load_inception(path: str | Path) -> InceptionV3:
    """The FID Inception-v3 with the weights in a safetensors file, frozen, in eval mode.

    Reads the file with safetensors only (nothing is unpickled) and refuses, in one line,
    anything whose tensor names or shapes differ from the standard weights'.
    """
    from genzoo.metrics.features import weights_sha256

    path = Path(path)
    tensors, metadata = _read_checked(path)
    if not all(t.is_floating_point() and t.isfinite().all() for t in tensors.values()):
        raise GenzooError(f"{path} holds non-float or non-finite weights")
    net = InceptionV3()
    net.load_state_dict(tensors)  # num_batches_tracked, when absent, is filled in
    net.sha256 = weights_sha256(tensors)
    net.stand_in = metadata.get("format") == STAND_IN_FORMAT
    return net.requires_grad_(False)


def write_stand_in(path: str | Path, seed: int = 0) -> Path:
    """Write random weights with the standard file's names and shapes, as safetensors.

    For tests and for trying `--inception` where the real weights cannot be had: features
    through it are finite and deterministic but measure nothing. Convolutions are
    He-initialised and BatchNorm statistics are near the identity (positive running_var),
    so activations keep their scale through all 94 layers. The metadata marks the file as
    a stand-in, and reports computed with it say so.
    """
    from safetensors.torch import save_file

    from genzoo.io.files import atomic_write

    g = torch.Generator().manual_seed(seed)

    def uniform(shape, low, high):
        return low + (high - low) * torch.rand(shape, generator=g)

    tensors = {}
    for key, shape in expected_shapes().items():
        if key.endswith("running_var"):
            t = uniform(shape, 0.5, 1.5)
        elif key.endswith(("running_mean", "bn.bias", "fc.bias")):
            t = uniform(shape, -0.1, 0.1)
        elif key.endswith("bn.weight"):
            t = uniform(shape, 0.8, 1.2)
        else:  # conv or fc weight, (c_out, c_in, kh, kw) or (out, in)
            fan_in = int(torch.tensor(shape[1:]).prod())
            t = torch.randn(shape, generator=g) * (2 / fan_in) ** 0.5
        tensors[key] = t.contiguous()
    path = Path(path)
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata={"format": STAND_IN_FORMAT}))
    return path
