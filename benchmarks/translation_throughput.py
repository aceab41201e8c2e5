"""Training-step throughput of genzoo's Pix2Pix, CycleGAN and StarGAN against references of
the same architectures written in the style of the authors' public code, in one process.

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/translation_throughput.py \
        | tee benchmarks/results/translation_throughput.txt

from the repository root (about 5 CPU minutes). `--quick` times a few blocks (under two
CPU minutes), `--check` only checks that each reference computes what genzoo's model does
(tests/test_translation_throughput.py runs it too), `--json FILE` also writes the rows for
`make bench` (benchmarks/speed.py).

Settings: the translation runs of docs/results.md, on 1×32×32 images in batches of 100:
Pix2Pix width=16 (edges2fashion: a 1-channel source and target); CycleGAN width=16,
n_blocks=6, d_layers=1; StarGAN width=16, n_blocks=6, with 2 attributes.

The references (written here, not copied) follow the authors' code:
- Pix2Pix and CycleGAN, junyanz/pytorch-CycleGAN-and-pix2pix: a U-Net built recursively
  from skip-connection blocks, the NLayerDiscriminator PatchGAN, the ResNet generator, a
  GANLoss module that builds target tensors (BCE-with-logits for Pix2Pix, MSE for
  CycleGAN), `set_requires_grad` toggling the discriminators around the G and D updates,
  `optimize_parameters()` (Pix2Pix: forward, D step, G step; CycleGAN: forward, G step,
  D step), real and fake D losses averaged ×0.5, CycleGAN's D_A and D_B backpropagated
  one after the other, and CycleGAN's ImagePool of 50 images that decides image by image
  with Python's `random`.
- StarGAN, yunjey/stargan's solver: a Generator that tiles the label over the image as
  channels, ResidualBlocks, a Discriminator with src and cls heads, `gradient_penalty`
  via torch.autograd.grad with ones as grad_outputs, `reset_grad()` zeroing both
  optimizers, BCE-with-logits summed over attributes / batch, a D update every step and
  a G update every n_critic-th. As in that code, G's backward also computes D's weight
  gradients (nothing switches them off; `reset_grad` discards them), where genzoo's
  `gradient_step` backpropagates into G's parameters only.

Where genzoo deviates from the authors' code, the references follow genzoo, so that both
sides compute the same function with the same parameter count (asserted):
- Pix2Pix U-Net: genzoo's blocks are conv → norm → LeakyReLU(0.2) down and
  transposed conv → norm → dropout → ReLU up, so the skips carry LeakyReLU'd features
  (the authors' code concatenates pre-activation features and applies ReLU to both
  halves, and its bottleneck ends in ReLU, genzoo's in LeakyReLU); the up path comes
  first in each concatenation; InstanceNorm is affine (the authors' is not; both give
  every conv a bias with InstanceNorm); the bottleneck has no norm and the first three
  decoder blocks have dropout, as in both.
- Pix2Pix dropout draws its masks with torch.rand in genzoo (`--check` swaps the
  reference's nn.Dropout for the same draw so the two agree exactly; the timed reference
  keeps nn.Dropout).
- CycleGAN: the ResNet generator and PatchGAN are the authors' but for the affine
  InstanceNorm; genzoo's HistoryPool answers a batch against the pool as it stood before
  it (documented in cyclegan.py). With `--check`'s batch of 4 both pools return the batch
  itself, so the two agree; at batch 100 their D sees different draws of the same amount.
- StarGAN: G is genzoo's (CycleGAN's reflection-padded 3×3 down/up convs with biases,
  affine InstanceNorm without running statistics) rather than the authors' 4×4 convs with
  zero padding, no biases and running statistics; D is the authors' (LeakyReLU 0.01, no
  norm, bias-free heads). genzoo draws the shuffled targets and the interpolation weights
  in the same order as the authors' code, so seeded alike the two agree.

`--check` copies genzoo's initial weights into the reference and runs a few steps of both
in float64 on one fixed batch of 4 (Pix2Pix and CycleGAN 2 steps, StarGAN 5, so that one
G update is included), with the global RNG (and Python's `random`) seeded alike before
each step, and compares every loss (relative difference < 1e-5) and every parameter after
the last step (difference < 1e-5 learning rates, the size of an Adam step: the biases
before an InstanceNorm have a gradient of rounding noise only, which Adam amplifies).

Timing: both models train in one process on one thread, on the same random batches (a few
drawn once and cycled), after warm-up steps, in alternating blocks of a few steps (which
model goes first alternates too); each model's `time.process_time()` is summed. One step
is one genzoo `training_step`: for StarGAN a D update plus a G update every 5th call, so
its blocks (and warm-up) are 5 steps long; Pix2Pix's are 2 steps, CycleGAN's 1 (a step
takes seconds). Blocks continue until both sides together have had --seconds of CPU.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time

import torch
from torch import nn

from genzoo.core import DataInfo
from genzoo.core.model import plain_backward
from genzoo.models import create_model

B, SIDE = 100, 32
SETTINGS = {
    "pix2pix": {"width": 16},
    "cyclegan": {"width": 16, "n_blocks": 6, "d_layers": 1},
    "stargan": {"width": 16, "n_blocks": 6},
}
ATTRIBUTES = ("thick", "slanted")  # two attributes, as morpho-mnist's


def data_info(name: str) -> DataInfo:
    attributes = ATTRIBUTES if name == "stargan" else ()
    return DataInfo((1, SIDE, SIDE), None, attributes=attributes)


def set_requires_grad(nets, requires_grad: bool) -> None:
    """The authors' helper: switch gradients of whole networks on or off."""
    for net in nets if isinstance(nets, list | tuple) else [nets]:
        for p in net.parameters():
            p.requires_grad = requires_grad


def instance_norm(channels: int) -> nn.Module:
    return nn.InstanceNorm2d(channels, affine=True)  # genzoo's: affine, no running stats


# --------------------------------------------------------------------------------------
# Pix2Pix and CycleGAN, in the style of junyanz/pytorch-CycleGAN-and-pix2pix


class UnetSkipConnectionBlock(nn.Module):
    """One resolution of the U-Net: down, the inner blocks, up, and the skip.

    Activations follow genzoo (each layer ends in its own activation), so a block sees
    the activated output of the block outside it and hands back [up path, its input]."""

    def __init__(self, outer_nc, inner_nc, input_nc=None, submodule=None, outermost=False,
                 innermost=False, down_norm=True, dropout=0.0):  # fmt: skip
        super().__init__()
        self.outermost = outermost
        input_nc = outer_nc if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner_nc, kernel_size=4, stride=2, padding=1)
        downnorm = instance_norm(inner_nc) if down_norm else None
        down = [downconv, *([downnorm] if downnorm else []), nn.LeakyReLU(0.2)]
        if outermost:
            upconv = nn.ConvTranspose2d(inner_nc * 2, outer_nc, kernel_size=4, stride=2,
                                        padding=1)  # fmt: skip
            model = down + [submodule, upconv, nn.Tanh()]
        else:
            up_in = inner_nc if innermost else inner_nc * 2
            upconv = nn.ConvTranspose2d(up_in, outer_nc, kernel_size=4, stride=2, padding=1)
            up = [upconv, instance_norm(outer_nc)]
            up += [nn.Dropout(dropout)] if dropout else []
            inner = [] if innermost else [submodule]
            model = down + inner + up + [nn.ReLU(True)]
        self.model = nn.Sequential(*model)

    def forward(self, x):
        if self.outermost:
            return self.model(x)
        return torch.cat([self.model(x), x], 1)  # genzoo's order: up path, then the skip


class UnetGenerator(nn.Module):
    """The U-Net built from the innermost block outwards, as the authors' code does."""

    def __init__(self, input_nc, output_nc, num_downs, ngf=64, n_dropout=3, dropout=0.5):
        super().__init__()
        widths = [ngf * min(2**i, 8) for i in range(num_downs)]
        block = UnetSkipConnectionBlock(widths[-2], widths[-1], innermost=True,
                                        down_norm=False, dropout=dropout)  # fmt: skip
        for k in range(num_downs - 2, 0, -1):  # from the bottleneck out
            p = dropout if num_downs - 1 - k < n_dropout else 0.0
            block = UnetSkipConnectionBlock(widths[k - 1], widths[k], submodule=block,
                                            dropout=p)  # fmt: skip
        self.model = UnetSkipConnectionBlock(output_nc, ngf, input_nc=input_nc, submodule=block,
                                             outermost=True, down_norm=False)  # fmt: skip

    def forward(self, input):
        return self.model(input)


class NLayerDiscriminator(nn.Module):
    """The PatchGAN: n_layers stride-2 convs, one stride-1 conv, a 1-channel conv."""

    def __init__(self, input_nc, ndf=64, n_layers=3):
        super().__init__()
        kw, padw = 4, 1
        sequence = [nn.Conv2d(input_nc, ndf, kw, 2, padw), nn.LeakyReLU(0.2, True)]
        nf_mult = 1
        for n in range(1, n_layers):
            nf_mult_prev, nf_mult = nf_mult, min(2**n, 8)
            sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, 2, padw),
                         instance_norm(ndf * nf_mult), nn.LeakyReLU(0.2, True)]  # fmt: skip
        nf_mult_prev, nf_mult = nf_mult, min(2**n_layers, 8)
        sequence += [nn.Conv2d(ndf * nf_mult_prev, ndf * nf_mult, kw, 1, padw),
                     instance_norm(ndf * nf_mult), nn.LeakyReLU(0.2, True)]  # fmt: skip
        sequence += [nn.Conv2d(ndf * nf_mult, 1, kw, 1, padw)]
        self.model = nn.Sequential(*sequence)

    def forward(self, input):
        return self.model(input)


class GANLoss(nn.Module):
    """The adversarial loss against a target tensor of real or fake labels."""

    def __init__(self, gan_mode: str):
        super().__init__()
        self.register_buffer("real_label", torch.tensor(1.0))
        self.register_buffer("fake_label", torch.tensor(0.0))
        self.loss = nn.MSELoss() if gan_mode == "lsgan" else nn.BCEWithLogitsLoss()

    def get_target_tensor(self, prediction, target_is_real):
        target = self.real_label if target_is_real else self.fake_label
        return target.expand_as(prediction).to(prediction.dtype)

    def __call__(self, prediction, target_is_real):
        return self.loss(prediction, self.get_target_tensor(prediction, target_is_real))


class Pix2PixReference(nn.Module):
    def __init__(self, input_nc=1, output_nc=1, ngf=16, ndf=16, n_layers_D=1, lambda_L1=100.0,
                 dropout=0.5, lr=2e-4, beta1=0.5):  # fmt: skip
        super().__init__()
        self.netG = UnetGenerator(input_nc, output_nc, int(math.log2(SIDE)), ngf,
                                  dropout=dropout)  # fmt: skip
        self.netD = NLayerDiscriminator(input_nc + output_nc, ndf, n_layers_D)
        self.criterionGAN = GANLoss("vanilla")
        self.criterionL1 = nn.L1Loss()
        self.lambda_L1 = lambda_L1
        self.optimizer_G = torch.optim.Adam(self.netG.parameters(), lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(self.netD.parameters(), lr=lr, betas=(beta1, 0.999))

    def set_input(self, batch):
        self.real_A, self.real_B = batch["source"], batch["x"]

    def forward(self):
        self.fake_B = self.netG(self.real_A)

    def backward_D(self):
        fake_AB = torch.cat((self.real_A, self.fake_B), 1)
        pred_fake = self.netD(fake_AB.detach())
        self.loss_D_fake = self.criterionGAN(pred_fake, False)
        real_AB = torch.cat((self.real_A, self.real_B), 1)
        pred_real = self.netD(real_AB)
        self.loss_D_real = self.criterionGAN(pred_real, True)
        self.loss_D = (self.loss_D_fake + self.loss_D_real) * 0.5
        self.loss_D.backward()

    def backward_G(self):
        fake_AB = torch.cat((self.real_A, self.fake_B), 1)
        pred_fake = self.netD(fake_AB)
        self.loss_G_GAN = self.criterionGAN(pred_fake, True)
        self.loss_G_L1 = self.criterionL1(self.fake_B, self.real_B) * self.lambda_L1
        self.loss_G = self.loss_G_GAN + self.loss_G_L1
        self.loss_G.backward()

    def optimize_parameters(self):
        self.forward()
        set_requires_grad(self.netD, True)
        self.optimizer_D.zero_grad()
        self.backward_D()
        self.optimizer_D.step()
        set_requires_grad(self.netD, False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()

    def step(self, batch, i):
        self.set_input(batch)
        self.optimize_parameters()
        return {"d_loss": self.loss_D, "g_loss": self.loss_G, "g_gan": self.loss_G_GAN,
                "l1": self.loss_G_L1 / self.lambda_L1}  # fmt: skip


class ResnetBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.conv_block = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3), instance_norm(dim),
        )  # fmt: skip

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc, output_nc, ngf=64, n_blocks=9):
        super().__init__()
        model = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), instance_norm(ngf),
                 nn.ReLU(True)]  # fmt: skip
        for i in range(2):  # downsampling
            mult = 2**i
            model += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1),
                      instance_norm(ngf * mult * 2), nn.ReLU(True)]  # fmt: skip
        model += [ResnetBlock(ngf * 4) for _ in range(n_blocks)]
        for i in range(2):  # upsampling
            mult = 2 ** (2 - i)
            model += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                         output_padding=1),
                      instance_norm(ngf * mult // 2), nn.ReLU(True)]  # fmt: skip
        model += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
        self.model = nn.Sequential(*model)

    def forward(self, input):
        return self.model(input)


class ImagePool:
    """A buffer of up to pool_size generated images; each queried image is, once the
    buffer is full, swapped with a stored one with probability 1/2."""

    def __init__(self, pool_size):
        self.pool_size = pool_size
        self.num_imgs = 0
        self.images = []

    def query(self, images):
        if self.pool_size == 0:
            return images
        return_images = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if self.num_imgs < self.pool_size:
                self.num_imgs += 1
                self.images.append(image)
                return_images.append(image)
            elif random.uniform(0, 1) > 0.5:
                random_id = random.randint(0, self.pool_size - 1)
                tmp = self.images[random_id].clone()
                self.images[random_id] = image
                return_images.append(tmp)
            else:
                return_images.append(image)
        return torch.cat(return_images, 0)


class CycleGANReference(nn.Module):
    """The authors' names: G_A: A → B, G_B: B → A, D_A judges B, D_B judges A."""

    def __init__(self, input_nc=1, output_nc=1, ngf=16, ndf=16, n_blocks=6, n_layers_D=1,
                 lambda_A=10.0, lambda_B=10.0, lambda_identity=0.5, pool_size=50, lr=2e-4,
                 beta1=0.5):  # fmt: skip
        super().__init__()
        self.netG_A = ResnetGenerator(input_nc, output_nc, ngf, n_blocks)
        self.netG_B = ResnetGenerator(output_nc, input_nc, ngf, n_blocks)
        self.netD_A = NLayerDiscriminator(output_nc, ndf, n_layers_D)
        self.netD_B = NLayerDiscriminator(input_nc, ndf, n_layers_D)
        self.fake_A_pool, self.fake_B_pool = ImagePool(pool_size), ImagePool(pool_size)
        self.criterionGAN = GANLoss("lsgan")
        self.criterionCycle, self.criterionIdt = nn.L1Loss(), nn.L1Loss()
        self.lambda_A, self.lambda_B, self.lambda_idt = lambda_A, lambda_B, lambda_identity
        g_params = [*self.netG_A.parameters(), *self.netG_B.parameters()]
        d_params = [*self.netD_A.parameters(), *self.netD_B.parameters()]
        self.optimizer_G = torch.optim.Adam(g_params, lr=lr, betas=(beta1, 0.999))
        self.optimizer_D = torch.optim.Adam(d_params, lr=lr, betas=(beta1, 0.999))

    def set_input(self, batch):
        self.real_A, self.real_B = batch["source"], batch["x"]

    def forward(self):
        self.fake_B = self.netG_A(self.real_A)
        self.rec_A = self.netG_B(self.fake_B)
        self.fake_A = self.netG_B(self.real_B)
        self.rec_B = self.netG_A(self.fake_A)

    def backward_D_basic(self, netD, real, fake):
        loss_D_real = self.criterionGAN(netD(real), True)
        loss_D_fake = self.criterionGAN(netD(fake.detach()), False)
        loss_D = (loss_D_real + loss_D_fake) * 0.5
        loss_D.backward()
        return loss_D

    def backward_D_A(self):
        fake_B = self.fake_B_pool.query(self.fake_B)
        self.loss_D_A = self.backward_D_basic(self.netD_A, self.real_B, fake_B)

    def backward_D_B(self):
        fake_A = self.fake_A_pool.query(self.fake_A)
        self.loss_D_B = self.backward_D_basic(self.netD_B, self.real_A, fake_A)

    def backward_G(self):
        lambda_idt, lambda_A, lambda_B = self.lambda_idt, self.lambda_A, self.lambda_B
        if lambda_idt > 0:
            self.idt_A = self.netG_A(self.real_B)
            self.loss_idt_A = self.criterionIdt(self.idt_A, self.real_B) * lambda_B * lambda_idt
            self.idt_B = self.netG_B(self.real_A)
            self.loss_idt_B = self.criterionIdt(self.idt_B, self.real_A) * lambda_A * lambda_idt
        else:
            self.loss_idt_A = self.loss_idt_B = 0
        self.loss_G_A = self.criterionGAN(self.netD_A(self.fake_B), True)
        self.loss_G_B = self.criterionGAN(self.netD_B(self.fake_A), True)
        self.loss_cycle_A = self.criterionCycle(self.rec_A, self.real_A) * lambda_A
        self.loss_cycle_B = self.criterionCycle(self.rec_B, self.real_B) * lambda_B
        self.loss_G = (self.loss_G_A + self.loss_G_B + self.loss_cycle_A + self.loss_cycle_B
                       + self.loss_idt_A + self.loss_idt_B)  # fmt: skip
        self.loss_G.backward()

    def optimize_parameters(self):
        self.forward()
        set_requires_grad([self.netD_A, self.netD_B], False)
        self.optimizer_G.zero_grad()
        self.backward_G()
        self.optimizer_G.step()
        set_requires_grad([self.netD_A, self.netD_B], True)
        self.optimizer_D.zero_grad()
        self.backward_D_A()
        self.backward_D_B()
        self.optimizer_D.step()

    def step(self, batch, i):
        self.set_input(batch)
        self.optimize_parameters()
        # in genzoo's names: its G is G_A, its D_B is D_A (both judge domain B), and so on
        return {"g_loss": self.loss_G, "loss_G_A": self.loss_G_A, "loss_G_B": self.loss_G_B,
                "cycle_A": self.loss_cycle_A / self.lambda_A,
                "cycle_B": self.loss_cycle_B / self.lambda_B,
                "loss_D_B": self.loss_D_A, "loss_D_A": self.loss_D_B}  # fmt: skip


# --------------------------------------------------------------------------------------
# StarGAN, in the style of yunjey/stargan


class ResidualBlock(nn.Module):
    def __init__(self, dim_in, dim_out):
        super().__init__()
        self.main = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(dim_in, dim_out, kernel_size=3),
            instance_norm(dim_out), nn.ReLU(inplace=True),
            nn.ReflectionPad2d(1), nn.Conv2d(dim_out, dim_out, kernel_size=3),
            instance_norm(dim_out),
        )  # fmt: skip

    def forward(self, x):
        return x + self.main(x)


class Generator(nn.Module):
    def __init__(self, conv_dim=64, c_dim=5, repeat_num=6, channels=1):
        super().__init__()
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels + c_dim, conv_dim, kernel_size=7),
                  instance_norm(conv_dim), nn.ReLU(inplace=True)]  # fmt: skip
        curr_dim = conv_dim
        for _ in range(2):  # down-sampling
            layers += [nn.Conv2d(curr_dim, curr_dim * 2, kernel_size=3, stride=2, padding=1),
                       instance_norm(curr_dim * 2), nn.ReLU(inplace=True)]  # fmt: skip
            curr_dim *= 2
        layers += [ResidualBlock(curr_dim, curr_dim) for _ in range(repeat_num)]
        for _ in range(2):  # up-sampling
            layers += [nn.ConvTranspose2d(curr_dim, curr_dim // 2, kernel_size=3, stride=2,
                                          padding=1, output_padding=1),
                       instance_norm(curr_dim // 2), nn.ReLU(inplace=True)]  # fmt: skip
            curr_dim //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(curr_dim, channels, kernel_size=7),
                   nn.Tanh()]  # fmt: skip
        self.main = nn.Sequential(*layers)

    def forward(self, x, c):
        c = c.view(c.size(0), c.size(1), 1, 1)
        c = c.repeat(1, 1, x.size(2), x.size(3))
        return self.main(torch.cat([x, c], dim=1))


class Discriminator(nn.Module):
    def __init__(self, image_size=128, conv_dim=64, c_dim=5, repeat_num=6, channels=1):
        super().__init__()
        layers = [nn.Conv2d(channels, conv_dim, kernel_size=4, stride=2, padding=1),
                  nn.LeakyReLU(0.01)]  # fmt: skip
        curr_dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(curr_dim, curr_dim * 2, kernel_size=4, stride=2, padding=1),
                       nn.LeakyReLU(0.01)]  # fmt: skip
            curr_dim *= 2
        kernel_size = image_size // 2**repeat_num
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(curr_dim, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(curr_dim, c_dim, kernel_size=kernel_size, bias=False)

    def forward(self, x):
        h = self.main(x)
        out_src = self.conv1(h)
        out_cls = self.conv2(h)
        return out_src, out_cls.view(out_cls.size(0), out_cls.size(1))


class StarGANSolver:
    def __init__(self, c_dim=2, image_size=32, g_conv_dim=16, d_conv_dim=16, g_repeat_num=6,
                 d_repeat_num=4, lambda_cls=1.0, lambda_rec=10.0, lambda_gp=10.0, n_critic=5,
                 g_lr=1e-4, d_lr=1e-4, beta1=0.5, beta2=0.999):  # fmt: skip
        self.G = Generator(g_conv_dim, c_dim, g_repeat_num)
        self.D = Discriminator(image_size, d_conv_dim, c_dim, d_repeat_num)
        self.g_optimizer = torch.optim.Adam(self.G.parameters(), g_lr, [beta1, beta2])
        self.d_optimizer = torch.optim.Adam(self.D.parameters(), d_lr, [beta1, beta2])
        self.lambda_cls, self.lambda_rec, self.lambda_gp = lambda_cls, lambda_rec, lambda_gp
        self.n_critic = n_critic

    def reset_grad(self):
        self.g_optimizer.zero_grad()
        self.d_optimizer.zero_grad()

    def gradient_penalty(self, y, x):
        """(‖dy/dx‖₂ − 1)², averaged over the batch."""
        weight = torch.ones(y.size(), dtype=y.dtype)
        dydx = torch.autograd.grad(outputs=y, inputs=x, grad_outputs=weight, retain_graph=True,
                                   create_graph=True, only_inputs=True)[0]  # fmt: skip
        dydx = dydx.view(dydx.size(0), -1)
        dydx_l2norm = torch.sqrt(torch.sum(dydx**2, dim=1))
        return torch.mean((dydx_l2norm - 1) ** 2)

    def classification_loss(self, logit, target):
        loss = nn.functional.binary_cross_entropy_with_logits(logit, target, reduction="sum")
        return loss / logit.size(0)

    def train_step(self, x_real, label_org, i):
        """Iteration i of the solver's train(): one D update, and a G update every
        n_critic-th."""
        rand_idx = torch.randperm(label_org.size(0))
        label_trg = label_org[rand_idx]
        c_org, c_trg = label_org.clone(), label_trg.clone()
        loss = {}

        out_src, out_cls = self.D(x_real)
        d_loss_real = -torch.mean(out_src)
        d_loss_cls = self.classification_loss(out_cls, label_org)
        x_fake = self.G(x_real, c_trg)
        out_src, out_cls = self.D(x_fake.detach())
        d_loss_fake = torch.mean(out_src)
        alpha = torch.rand(x_real.size(0), 1, 1, 1)
        x_hat = (alpha * x_real.data + (1 - alpha) * x_fake.data).requires_grad_(True)
        out_src, _ = self.D(x_hat)
        d_loss_gp = self.gradient_penalty(out_src, x_hat)
        d_loss_adv = d_loss_real + d_loss_fake
        d_loss = d_loss_adv + self.lambda_cls * d_loss_cls + self.lambda_gp * d_loss_gp
        self.reset_grad()
        d_loss.backward()
        self.d_optimizer.step()
        loss["d_loss"], loss["d_cls"], loss["gradient_penalty"] = d_loss, d_loss_cls, d_loss_gp
        loss["d_adv"] = d_loss_adv

        if (i + 1) % self.n_critic == 0:
            x_fake = self.G(x_real, c_trg)
            out_src, out_cls = self.D(x_fake)
            g_loss_fake = -torch.mean(out_src)
            g_loss_cls = self.classification_loss(out_cls, label_trg)
            x_reconst = self.G(x_fake, c_org)
            g_loss_rec = torch.mean(torch.abs(x_real - x_reconst))
            g_loss = g_loss_fake + self.lambda_rec * g_loss_rec + self.lambda_cls * g_loss_cls
            self.reset_grad()
            g_loss.backward()
            self.g_optimizer.step()
            loss |= {"g_loss": g_loss, "g_adv": g_loss_fake, "g_cls": g_loss_cls,
                     "rec": g_loss_rec}  # fmt: skip
        return loss


class StarGANReference(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.solver = StarGANSolver(**kwargs)
        self.G, self.D = self.solver.G, self.solver.D  # registered, for .double()/counting

    def step(self, batch, i):
        return self.solver.train_step(batch["x"], batch["attributes"], i)


# --------------------------------------------------------------------------------------
# building, checking and timing


def build(name: str):
    """genzoo's model for the benchmark's settings, its optimizers, the reference starting
    from genzoo's weights, and their parameter count (asserted equal)."""
    settings = SETTINGS[name]
    ours = create_model(name, data_info(name), **settings)
    w = settings["width"]
    if name == "pix2pix":
        reference = Pix2PixReference(ngf=w, ndf=w, n_layers_D=ours.config.d_layers,
                                     dropout=ours.config.dropout)  # fmt: skip
    elif name == "cyclegan":
        reference = CycleGANReference(ngf=w, ndf=w, n_blocks=settings["n_blocks"],
                                      n_layers_D=settings["d_layers"])  # fmt: skip
    else:
        reference = StarGANReference(c_dim=len(ATTRIBUTES), image_size=SIDE, g_conv_dim=w,
                                     d_conv_dim=w, g_repeat_num=settings["n_blocks"],
                                     d_repeat_num=len(ours.D.body) // 2)  # fmt: skip
    for genzoo_net, reference_net in network_pairs(name, ours, reference):
        copy_parameters(genzoo_net, reference_net)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_reference = sum(p.numel() for p in reference.parameters())
    assert n_ours == n_reference, f"{name}: {n_ours:,} parameters, reference {n_reference:,}"
    return ours, ours.configure_optimizers(0.0), reference, n_ours


def network_pairs(name: str, ours, reference) -> list[tuple[nn.Module, nn.Module]]:
    """Each of genzoo's networks with its counterpart in the reference."""
    if name == "pix2pix":
        return [(ours.generator, reference.netG), (ours.discriminator, reference.netD)]
    if name == "cyclegan":  # genzoo's D_B judges domain B, as the authors' D_A does
        return [(ours.G, reference.netG_A), (ours.F, reference.netG_B),
                (ours.D_B, reference.netD_A), (ours.D_A, reference.netD_B)]  # fmt: skip
    return [(ours.G, reference.G), (ours.D, reference.D)]


@torch.no_grad()
def copy_parameters(source: nn.Module, target: nn.Module) -> None:
    """Copy parameter by parameter in module order, which the two share (the recursive
    U-Net's order, its downs then its ups innermost first, is genzoo's too)."""
    a, b = list(source.parameters()), list(target.parameters())
    assert len(a) == len(b), f"{len(a)} parameter tensors vs {len(b)}"
    for p, q in zip(a, b, strict=True):
        assert p.shape == q.shape, f"{tuple(p.shape)} vs {tuple(q.shape)}"
        q.copy_(p)


def batches(name: str, n: int, batch: int, seed: int, dtype=torch.float32) -> list[dict]:
    """n random batches in the benchmark's shape: images in [−1, 1], attributes in {0, 1}."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        images = [torch.rand(batch, 1, SIDE, SIDE, generator=g, dtype=dtype) * 2 - 1
                  for _ in range(2)]  # fmt: skip
        if name == "stargan":
            attributes = torch.randint(0, 2, (batch, len(ATTRIBUTES)), generator=g)
            out.append({"x": images[0], "attributes": attributes.to(dtype)})
        else:
            out.append({"source": images[0], "x": images[1]})
    return out


def steppers(name: str, dtype=torch.float32):
    """Two functions (batch, step index) -> losses: genzoo's training step and the
    reference's, from the same initial weights."""
    ours, optimizers, reference, n_params = build(name)
    ours.to(dtype).train()
    reference.to(dtype).train()  # Adam's state is created lazily: a dtype change is safe

    def genzoo_step(batch, i):
        return ours.training_step(batch, i, optimizers, plain_backward)

    return genzoo_step, reference.step, (ours, reference, n_params)


def check(name: str, batch: int = 4, seed: int = 0) -> tuple[float, float]:
    """Over a few float64 steps of both on one fixed batch: the largest relative difference
    of a loss, and the largest difference of a parameter after the last step in units of
    the learning rate (about the size of one Adam step)."""
    from genzoo.models.translation.pix2pix import dropout as genzoo_dropout

    torch.manual_seed(seed)
    ours_step, reference_step, (ours, reference, _) = steppers(name, dtype=torch.float64)
    for m in reference.modules():  # draw the dropout masks as genzoo does
        if isinstance(m, nn.Dropout):
            m.forward = lambda h, p=m.p: genzoo_dropout(h, p, None)
    (data,) = batches(name, 1, batch, seed, torch.float64)
    worst_loss = 0.0
    for i in range(5 if name == "stargan" else 2):
        torch.manual_seed(seed + 1 + i)
        random.seed(seed + 1 + i)
        got = ours_step(data, i)
        torch.manual_seed(seed + 1 + i)
        random.seed(seed + 1 + i)
        want = reference_step(data, i)
        assert want.keys() <= got.keys(), f"{name}: {set(want) - set(got)} not logged"
        for key, value in want.items():
            a, b = float(got[key]), float(value.detach())
            rel = abs(a - b) / max(abs(a), 1e-12)
            worst_loss = max(worst_loss, rel)
            print(f"  {name} step {i} {key:>17s}: genzoo {a:.12g}  reference {b:.12g}  "
                  f"rel {rel:.1e}")  # fmt: skip
    lr = max(ours.config.lr_g, ours.config.lr_d)
    worst_parameter = max(
        float((p - q).detach().abs().max()) / lr
        for a, b in network_pairs(name, ours, reference)
        for p, q in zip(a.parameters(), b.parameters(), strict=True)
    )
    return worst_loss, worst_parameter


def time_interleaved(name: str, seconds: float, seed: int = 0) -> dict:
    """Alternating blocks of both training steps until both have had `seconds` of CPU
    between them (at least 3 blocks each); the CPU seconds of every block."""
    # steps per block and warm-up steps: StarGAN's are n_critic (one G update in each);
    # CycleGAN's step takes seconds
    block = warmup = {"pix2pix": 2, "cyclegan": 1, "stargan": 5}[name]
    torch.manual_seed(seed)
    random.seed(seed)
    ours_step, reference_step, (_, _, n_params) = steppers(name)
    data = batches(name, 4, B, seed + 1)
    steps = {"genzoo": ours_step, "reference": reference_step}
    done = dict.fromkeys(steps, 0)

    def run(which: str, n: int) -> float:
        t = time.process_time()
        for _ in range(n):
            steps[which](data[done[which] % len(data)], done[which])
            done[which] += 1
        return time.process_time() - t

    for which in steps:
        run(which, warmup)
    cpu: dict[str, list[float]] = {which: [] for which in steps}
    k = 0
    while k < 3 or sum(map(sum, cpu.values())) < seconds:
        order = ("genzoo", "reference") if k % 2 == 0 else ("reference", "genzoo")
        for which in order:
            cpu[which].append(run(which, block))
        k += 1
    return {"block": block, "blocks": k, "cpu": cpu, "params": n_params}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="pix2pix,cyclegan,stargan")
    parser.add_argument("--quick", action="store_true", help="about 15 CPU s per model")
    parser.add_argument("--seconds", type=float, default=None,
                        help="CPU seconds of timed blocks per model, both sides together "
                             "(default 90; --quick 15)")  # fmt: skip
    parser.add_argument("--check", action="store_true",
                        help="only check the references against genzoo, in float64")  # fmt: skip
    parser.add_argument("--json", help="also write the rows for `make bench` here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    names = args.models.split(",")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from common import cpu_model, loadavg, write_rows  # benchmarks/common.py

    # the project's interpreter as the other results name it, not this machine's path
    python = ".venv/bin/python" if ".venv" in sys.executable else "python"
    shown = ("OMP_NUM_THREADS", "PYTHONPATH")
    env = " ".join(f"{k}={os.environ[k]}" for k in shown if k in os.environ)
    prefix = f"{env} " if env else ""
    tee = " | tee benchmarks/results/translation_throughput.txt"
    plain = not (args.quick or args.check or args.seconds or args.json)
    print(f"$ {prefix}{python} {' '.join(sys.argv)}{tee if plain else ''}")
    print(f"torch {torch.__version__}, 1 thread, CPU: {cpu_model()}")
    print(f"load average at start: {loadavg()}")
    if args.check:
        worst = {name: check(name) for name in names}
        for name, (loss, parameter) in worst.items():
            print(
                f"{name}: largest relative difference of a loss {loss:.1e}; of a parameter "
                f"after the steps, in units of the learning rate, {parameter:.1e}"
            )
        ok = all(max(both) < 1e-5 for both in worst.values())
        print("check passed" if ok else "check FAILED")
        sys.exit(0 if ok else 1)

    seconds = args.seconds or (15.0 if args.quick else 90.0)
    print(f"batch {B}, 1x{SIDE}x{SIDE}, float32; alternating blocks, about {seconds:.0f} CPU s "
          "per model (both sides); steps/s = steps / summed process_time")  # fmt: skip
    for name in names:
        print(f"  {name}: " + ", ".join(f"{k}={v}" for k, v in SETTINGS[name].items()))
    print()
    print(f"{'model':<10}{'params':>10}{'blocks':>9}{'genzoo steps/s':>16}{'ref steps/s':>13}"
          f"{'ratio':>8}{'median':>8}")  # fmt: skip
    rows = []
    for name in names:
        r = time_interleaved(name, seconds)
        n = r["block"] * r["blocks"]
        ours_s, ref_s = sum(r["cpu"]["genzoo"]) / n, sum(r["cpu"]["reference"]) / n
        median = statistics.median(
            b / a for a, b in zip(r["cpu"]["genzoo"], r["cpu"]["reference"], strict=True)
        )
        blocks = f"{r['blocks']}x{r['block']}"
        print(f"{name:<10}{r['params']:>10,}{blocks:>9}{1 / ours_s:>16.3f}{1 / ref_s:>13.3f}"
              f"{ref_s / ours_s:>7.3f}x{median:>7.3f}x", flush=True)  # fmt: skip
        settings = ", ".join(f"{k}={v}" for k, v in SETTINGS[name].items())
        rows.append({"name": f"{name} training step, B={B}, {settings}", "genzoo_s": ours_s,
                     "reference": "authors' code style", "reference_s": ref_s,
                     "threads": 1})  # fmt: skip
    print()
    print("ratio: genzoo steps/s / reference steps/s over all blocks (above 1: genzoo is "
          "faster); median: the median of the per-block ratios. A StarGAN step is one D update "
          "plus a G update every 5th step.")  # fmt: skip
    print(f"load average at end: {loadavg()}")
    write_rows(args.json, rows)


if __name__ == "__main__":
    main()
