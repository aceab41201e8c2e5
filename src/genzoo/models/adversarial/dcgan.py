"""Deep convolutional GAN.

A. Radford, L. Metz and S. Chintala, "Unsupervised Representation Learning with Deep
Convolutional Generative Adversarial Networks", ICLR 2016 (arXiv:1511.06434).

The GAN game and update of gan.py, with the paper's architecture guidelines (Sec. 3):
strided convolutions in D and fractionally strided ones in G instead of pooling;
BatchNorm in both, except G's output layer and D's input layer; ReLU in G with a tanh
output; LeakyReLU(0.2) in D; no fully connected hidden layers. Training (Sec. 4): Adam with
learning rate 2e-4 and β1 = 0.5, weights from N(0, 0.02), batch 128.

Deviations from the paper: two stride-2 layers each way (the paper's 64x64 nets have four),
so the same net serves 8x8, 28x28 and 32x32 images. G starts from a linear projection of z
whose BatchNorm normalises each of its C·H·W units (BatchNorm1d), as the authors' Theano
code does (batchnorm of T.dot(Z, w), then reshape); the PyTorch example starts with a
transposed convolution and per-channel BatchNorm instead. On MNIST at equal steps the two
reach the same FID within seed noise (benchmarks/dcgan_equal_steps.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from genzoo.core.config import at_least, length
from genzoo.core.registry import register
from genzoo.models.adversarial.base import ADAM_BETAS, dcgan_init
from genzoo.models.adversarial.gan import GAN, GANConfig


@dataclass
class DCGANConfig(GANConfig):
    network: Literal["mlp", "conv"] = "conv"  # Sec. 3
    channels: tuple[int, ...] = field(default=(64, 128), metadata=at_least(1) | length(2))
    lr_d: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 4
    lr_g: float = field(default=2e-4, metadata=at_least(0.0))  # Sec. 4
    # Sec. 4: β1 = 0.5
    betas: tuple[float, ...] = field(default=(0.5, 0.999), metadata=ADAM_BETAS)


@register("dcgan", family="adversarial", description="DCGAN (Radford et al. 2016), conv + BN")
class DCGAN(GAN):
    Config = DCGANConfig
    batch_norm = True

    def __init__(self, config: DCGANConfig, data):
        super().__init__(config, data)
        if config.network == "conv":  # DCGAN's initialisation is for its conv nets
            dcgan_init(self)
