"""bf16 mixed precision (`--set precision=bf16-mixed`): every model trains under it, and
every likelihood model's log p (or ELBO) under bf16 autocast agrees with float32.

Tolerance: 0.5 % of |log p| per image. bf16 keeps 8 significant bits (a rounding unit of
2^-8 ≈ 0.39 %); autocast runs matmuls and convolutions in bf16 and the sums over
dimensions in float32, so the relative error of the total stays near one rounding unit.
Measured on these inputs (8x8, default sizes, random weights): at most 0.06 % (the VAE).
"""

import pytest
import torch
from test_contract import NAMES, examples, info_for, tiny, tiny_data

from genzoo.core import Capability, DataInfo
from genzoo.models import create_model, list_models
from genzoo.train import fit

RELATIVE = 5e-3
LIKELIHOOD = [
    s.name for s in list_models() if s.capabilities & (Capability.LOG_PROB | Capability.ELBO)
]


def score(model, x):
    """log p(x), or the ELBO with a fixed draw of z."""
    if Capability.LOG_PROB in model.capabilities:
        return model.log_prob(x)
    return model.elbo(x, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", LIKELIHOOD)
def test_bf16_autocast_log_p_agrees_with_float32(name):
    spec = next(s for s in list_models() if s.name == name)
    torch.manual_seed(0)
    info = info_for(spec.cls)
    model = create_model(name, DataInfo((1, 8, 8), info.n_values)).eval()
    x = examples(model, 16)
    with torch.no_grad():
        full = score(model, x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            mixed = score(model, x)
    assert mixed.dtype == torch.float32
    torch.testing.assert_close(mixed, full, rtol=RELATIVE, atol=0.0)


def test_the_tolerance_would_catch_a_half_precision_sum():
    """The check is sharp enough to fail a model that summed its 64 terms in bf16."""
    terms = -torch.rand(16, 64) * 2
    summed_in_bf16 = torch.zeros(16, dtype=torch.bfloat16)
    for d in range(64):  # every partial sum rounded to bf16
        summed_in_bf16 = summed_in_bf16 + terms[:, d].bfloat16()
    with pytest.raises(AssertionError):
        torch.testing.assert_close(summed_in_bf16.float(), terms.sum(1), rtol=RELATIVE, atol=0.0)


@pytest.mark.parametrize("name", NAMES)
def test_every_model_trains_under_bf16_mixed(name):
    model = tiny(name)
    data = tiny_data(model, examples(model))
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(model, data, max_steps=2, batch_size=8, precision="bf16-mixed",
                 progress=False, tensorboard=False)  # fmt: skip
    assert result.step == 2
    params = list(model.parameters())
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in params)
    assert any(not torch.equal(a, b) for a, b in zip(before, params, strict=True))
