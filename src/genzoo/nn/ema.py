"""An exponential moving average of a network's weights, kept beside it for sampling.

    θ̄ ← β θ̄ + (1 − β) θ      after every training step (θ̄ starts at θ's first value)

Averaged generator weights give visibly steadier GAN samples than the last iterate (Karras
et al., "Progressive Growing of GANs", ICLR 2018, Sec. A.1, β = 0.999; Yazıcı et al., "The
Unusual Effectiveness of Averaging in GAN Training", ICLR 2019). The averages are buffers,
so they are saved and resumed with the model and no optimizer ever sees them; the network's
own buffers (BatchNorm statistics) are used as they are.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call

from genzoo.core.errors import GenzooError


class EMA(nn.Module):
    def __init__(self, network: nn.Module, decay: float):
        super().__init__()
        if not 0.0 < decay < 1.0:
            raise GenzooError(f"ema_decay is in (0, 1), not {decay}")
        self.decay = decay
        self.names = [name for name, _ in network.named_parameters()]
        for i, p in enumerate(network.parameters()):
            self.register_buffer(f"average_{i}", p.detach().clone())
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def update(self, network: nn.Module) -> None:
        first = int(self.updates) == 0  # the first value: the network may be re-initialised
        for i, p in enumerate(network.parameters()):  # after this module copied it
            average = getattr(self, f"average_{i}")
            if first:
                average.copy_(p)
            else:
                average.lerp_(p, 1.0 - self.decay)
        self.updates += 1

    def averaged(self, network: nn.Module, *inputs: Tensor, part: str = "") -> Tensor:
        """`network(*inputs)` with the averaged weights; with `part`, the submodule of that
        name (e.g. StyleGAN's "mapping") with its averaged weights."""
        prefix = f"{part}." if part else ""
        weights = {name.removeprefix(prefix): getattr(self, f"average_{i}")
                   for i, name in enumerate(self.names) if name.startswith(prefix)}  # fmt: skip
        return functional_call(network.get_submodule(part), weights, inputs)
