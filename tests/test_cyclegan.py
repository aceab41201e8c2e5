"""Unpaired image-to-image translation: the edges2fashion-unpaired task, CycleGAN against its
paper (the cycle loss both ways, the LSGAN objective, the history pool's rule, update
isolation, the ResNet generator), exact resume with the pool, a short run that lowers
the cycle loss, and the CLI in both directions."""

import numpy as np
import pytest
import torch
from conftest import train_step
from test_translation import error_line, moved, rectangles, snapshot, tiny_task

from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.core.model import plain_backward
from genzoo.data import Transform, load
from genzoo.data.splits import ImageStream, Splits
from genzoo.data.streams import DataSpec, Stream, StreamData, TensorDataset
from genzoo.data.tasks import TASKS, Task
from genzoo.metrics.translation import cycle_metrics
from genzoo.models import create_model
from genzoo.models.adversarial.losses import (
    least_squares_discriminator_loss,
    least_squares_generator_loss,
)
from genzoo.models.translation.cyclegan import CycleGANConfig, HistoryPool, ResidualBlock
from genzoo.train import fit
from genzoo.train.run import data_streams

QUIET = {"progress": False, "tensorboard": False}
SMALL = {"width": 4, "n_blocks": 1, "d_layers": 1}
IMAGES = DataInfo((1, 16, 16), None)


def images(n, side=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, side, side, generator=g) * 2 - 1


# ------------------------------------------------------------------ the unpaired task


def test_edges2fashion_unpaired_shuffles_the_training_pairs_apart_and_keeps_the_test_pairs(
    shared_data_root,
):
    paired = load("edges2fashion", shared_data_root)
    task = load("edges2fashion-unpaired", shared_data_root)
    edges, source = paired.images["source"], task.images["source"]
    assert source.domain == "edges" and edges.domain == "a"
    perm = torch.from_numpy(np.random.RandomState(0).permutation(50_000))  # the stated seed
    assert torch.equal(source.train, edges.train[perm])
    assert torch.equal(source.valid, edges.valid) and torch.equal(source.test, edges.test)
    for split in ("train", "valid", "test"):
        assert torch.equal(task.split(split), paired.split(split))
    same_row = (source.train == edges.train).flatten(1).all(1).float().mean()
    assert same_row < 0.01  # hardly any training row still meets its own image
    assert "permuted (RandomState(0))" in task.protocol and "true pairs" in task.protocol
    spec = data_streams(task, DataInfo((1, 32, 32), None))
    assert spec.kind == "labelled unpaired images" and spec["source"].domain == "edges"


def test_pix2pix_refuses_unpaired_streams_and_cyclegan_takes_them():
    x = torch.rand(8, 1, 8, 8)
    spec = DataSpec((Stream("x", "image", (1, 8, 8)),
                     Stream("source", "image", (1, 8, 8), domain="b")))  # fmt: skip
    data = StreamData(spec, {"x": TensorDataset(x), "source": TensorDataset(x[:5])})
    pix2pix = create_model("pix2pix", DataInfo((1, 8, 8), None), width=2)
    with pytest.raises(GenzooError, match="paired streams, but .* different domains"):
        fit(pix2pix, data, max_steps=1, **QUIET)
    cyclegan = create_model("cyclegan", DataInfo((1, 8, 8), None), **SMALL)
    fit(cyclegan, data, max_steps=1, batch_size=4, **QUIET)


# ------------------------------------------------------------------ the networks


def test_the_resnet_generator_is_the_papers():
    """c7s1-64, d128, d256, R256 × 9, u128, u64, c7s1-3 (Appendix 7.2); one residual add."""
    paper = create_model("cyclegan", DataInfo((3, 256, 256), None))
    convs = [
        m for m in paper.G.modules() if isinstance(m, torch.nn.Conv2d | torch.nn.ConvTranspose2d)
    ]
    blocks = [m for m in paper.G.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 9 and all(b.f[1].out_channels == 256 for b in blocks)
    outside = [c for c in convs if not any(c is m for b in blocks for m in b.modules())]
    assert [(c.kernel_size[0], c.stride[0], c.out_channels) for c in outside] == [
        (7, 1, 64), (3, 2, 128), (3, 2, 256), (3, 2, 128), (3, 2, 64), (7, 1, 3)]  # fmt: skip
    assert [type(c).__name__ for c in outside[3:5]] == ["ConvTranspose2d"] * 2  # u128, u64
    assert paper.patch_size == 70  # the 70x70 PatchGAN (d_layers=3)
    assert paper.D_A.layers == paper.D_B.layers and paper.D_B.net[0].in_channels == 3
    block = ResidualBlock(4, "instance")
    h = torch.randn(2, 4, 8, 8)
    assert torch.allclose(block(h), h + block.f(h))  # x + f(x), added once
    assert not any(isinstance(m, torch.nn.Dropout) for m in paper.modules())  # no dropout


# ------------------------------------------------------------------ the objective


def test_cycle_consistency_is_computed_both_ways():
    """‖F(G(a)) − a‖₁ and ‖G(F(b)) − b‖₁: zero for identity generators, positive when
    either is perturbed, and each direction on its own images."""
    model = create_model("cyclegan", IMAGES, **SMALL)
    a, b = images(4, seed=1), images(4, seed=2)
    model.G, model.F = torch.nn.Identity(), torch.nn.Identity()
    assert [c.item() for c in model.cycle_consistency(a, b)] == [0.0, 0.0]

    class Shift(torch.nn.Module):
        def __init__(self, delta):
            super().__init__()
            self.delta = delta

        def forward(self, x):
            return x + self.delta

    model.G = Shift(0.1)  # F ∘ G and G ∘ F are both x + 0.1
    cycle_a, cycle_b = model.cycle_consistency(a, b)
    assert cycle_a.item() == pytest.approx(0.1) and cycle_b.item() == pytest.approx(0.1)
    model.F = Shift(-0.1)  # now G and F undo each other exactly
    assert all(c.item() < 1e-6 for c in model.cycle_consistency(a, b))
    model.G, model.F = torch.nn.Identity(), Shift(0.0)

    class Double(torch.nn.Module):
        def forward(self, x):
            return 2 * x

    model.G = Double()  # cycles scale by 2: the error is |a| on A's side, |b| on B's
    cycle_a, cycle_b = model.cycle_consistency(torch.zeros_like(a), b)
    assert cycle_a.item() == 0 and cycle_b.item() == pytest.approx(b.abs().mean().item())
    cycle_a, cycle_b = model.cycle_consistency(a, torch.zeros_like(b))
    assert cycle_b.item() == 0 and cycle_a.item() == pytest.approx(a.abs().mean().item())


def test_the_objective_is_the_papers():
    """G and F: LSGAN + λ(cycle A + cycle B) + 0.5λ(identity A + identity B), λ = 10
    (Eq. 3, Sec. 5.2); D: half of the LSGAN objective of each D, here on the current
    fakes (pool_size=0)."""
    torch.manual_seed(0)
    model = create_model("cyclegan", IMAGES, **SMALL, pool_size=0, lr_g=0.0, lr_d=0.0)
    cfg = model.config
    assert (cfg.lambda_cycle, cfg.lambda_identity, tuple(cfg.betas)) == (10, 0.5, (0.5, 0.999))
    assert (CycleGANConfig().pool_size, cfg.norm) == (50, "instance")
    a, b = images(4, seed=1), images(4, seed=2)
    G, F, D_A, D_B = model.G, model.F, model.D_A, model.D_B
    with torch.no_grad():
        b_fake, a_fake = G(a), F(b)
        cycle = (F(b_fake) - a).abs().mean() + (G(a_fake) - b).abs().mean()
        identity = (G(b) - b).abs().mean() + (F(a) - a).abs().mean()
        gan = least_squares_generator_loss(D_B(b_fake)) + least_squares_generator_loss(D_A(a_fake))
        loss_G = gan + 10 * cycle + 5 * identity
        loss_D = 0.5 * (least_squares_discriminator_loss(D_B(b), D_B(b_fake))
                        + least_squares_discriminator_loss(D_A(a), D_A(a_fake)))  # fmt: skip
    logs = model.training_step({"x": b, "source": a}, 0, model.configure_optimizers(0),
                               plain_backward)  # fmt: skip
    assert logs["g_loss"].item() == pytest.approx(loss_G.item(), rel=1e-5)
    assert logs["d_loss"].item() == pytest.approx(loss_D.item(), rel=1e-5)
    assert (logs["cycle_A"] + logs["cycle_B"]).item() == pytest.approx(cycle.item(), rel=1e-5)
    # the ablation "GAN alone" (Table 4): no cycle loss, and so no identity loss either
    gan_alone = create_model("cyclegan", IMAGES, **SMALL, lambda_cycle=0.0)
    logs = train_step(gan_alone, b)
    assert logs["g_loss"].item() == pytest.approx((logs["loss_G_A"] + logs["loss_G_B"]).item())
    assert logs["idt_A"] == 0 and logs["idt_B"] == 0


def test_d_steps_move_only_d_a_and_d_b_and_g_steps_only_g_and_f():
    torch.manual_seed(0)
    model = create_model("cyclegan", IMAGES, **SMALL)
    optimizers = model.configure_optimizers(1e-3)
    assert sorted(optimizers) == ["discriminator", "generator"]
    x = images(4)
    nets = {"G": model.G, "F": model.F, "D_A": model.D_A, "D_B": model.D_B}
    optimizers["generator"].param_groups[0]["lr"] = 0.0  # what moves is the D step
    before = {k: snapshot(n) for k, n in nets.items()}
    train_step(model, x, optimizers)
    assert {k: moved(n, before[k]) for k, n in nets.items()} == {
        "G": False, "F": False, "D_A": True, "D_B": True}  # fmt: skip
    optimizers["generator"].param_groups[0]["lr"] = 2e-4
    optimizers["discriminator"].param_groups[0]["lr"] = 0.0  # what moves is the G step
    before = {k: snapshot(n) for k, n in nets.items()}
    train_step(model, x, optimizers)
    assert {k: moved(n, before[k]) for k, n in nets.items()} == {
        "G": True, "F": True, "D_A": False, "D_B": False}  # fmt: skip
    # and no gradient crosses: after a step, D's gradients are the D step's alone
    model = create_model("cyclegan", IMAGES, **SMALL, lr_g=0.0, lr_d=0.0)
    optimizers = model.configure_optimizers(0.0)
    model.training_step({"x": x, "source": x.flip(-1)}, 0, optimizers,
                        plain_backward)  # fmt: skip
    d_grads = [p.grad.clone() for p in model.D_B.parameters()]
    model.zero_grad(set_to_none=True)
    pooled = model.pool_B.images[: len(x)]  # a fresh pool of 50: the D step saw these
    loss_D_B = 0.5 * least_squares_discriminator_loss(model.D_B(x), model.D_B(pooled))
    loss_D_B.backward()
    assert all(torch.allclose(g, p.grad, atol=1e-6)
               for g, p in zip(d_grads, model.D_B.parameters(), strict=True))  # fmt: skip


# ------------------------------------------------------------------ the history pool


def tagged(ids) -> torch.Tensor:
    """One 1x2x2 image per id, every pixel equal to the id: which fake came back."""
    return torch.tensor(ids, dtype=torch.float32)[:, None, None, None].expand(-1, 1, 2, 2)


def ids_of(x) -> list[int]:
    return x[:, 0, 0, 0].long().tolist()


def test_without_a_pool_d_sees_exactly_the_current_fakes():
    pool = HistoryPool(0, (1, 2, 2))
    torch.manual_seed(0)
    for step in range(5):
        fake = tagged(range(10 * step, 10 * step + 10))
        assert torch.equal(pool.query(fake), fake)
    assert pool.images.numel() == 0 and int(pool.count) == 0


def test_the_pool_fills_then_swaps_half_the_fakes_for_earlier_ones():
    torch.manual_seed(0)
    pool = HistoryPool(50, (1, 2, 2))
    assert ids_of(pool.query(tagged(range(30)))) == list(range(30))  # filling: as they are
    out = ids_of(pool.query(tagged(range(30, 60))))
    assert out[:20] == list(range(30, 50))  # the last 20 free slots, as they are
    assert all(i == j or j < 30 for i, j in zip(range(50, 60), out[20:], strict=True))
    assert int(pool.count) == 50
    swapped = total = 0
    for step in range(2, 60):  # full: each fake swaps with probability 1/2
        ids = list(range(100 * step, 100 * step + 20))
        before = set(ids_of(pool.images))
        out = ids_of(pool.query(tagged(ids)))
        for i, j in zip(ids, out, strict=True):
            assert j == i or j in before  # a stored fake from an earlier step, never this one's
            swapped += j != i
            total += 1
        new = set(ids_of(pool.images)) - before  # only this step's swapped fakes came in
        assert new <= {i for i, j in zip(ids, out, strict=True) if j != i}
        assert bool(new) == any(i != j for i, j in zip(ids, out, strict=True))
    assert abs(swapped / total - 0.5) < 0.05, swapped / total  # 1,160 fakes: 3 sd is 0.044


# ------------------------------------------------------------------ training


def unpaired(n, side, seed) -> StreamData:
    """Rectangles (x, domain a) and the edge maps of other rectangles (source, domain
    "edges"), drawn independently: unpaired."""
    t = Transform(256, scale="symmetric")
    edges, _ = rectangles(n, side, seed + 100)
    _, y = rectangles(n, side, seed)
    spec = DataSpec((Stream("x", "image", (1, side, side)),
                     Stream("source", "image", (1, side, side), domain="edges")))  # fmt: skip
    return StreamData(spec, {"x": TensorDataset(t.fixed(y, "train")),
                             "source": TensorDataset(t.fixed(edges, "train"))})  # fmt: skip


def test_a_short_run_lowers_the_cycle_loss():
    """Judged on 32 held-out true pairs: the cycle reconstruction error both ways falls."""
    t = Transform(256, scale="symmetric")
    source, target = (t.fixed(v, "test") for v in rectangles(32, 16, 1))
    torch.manual_seed(0)
    model = create_model("cyclegan", IMAGES, width=8, n_blocks=1, d_layers=1, lr_g=1e-3,
                         lr_d=1e-3)  # fmt: skip
    before = cycle_metrics(model, source, target, "symmetric", 32)
    fit(model, unpaired(128, 16, 0), max_steps=80, batch_size=16, **QUIET)
    after = cycle_metrics(model, source, target, "symmetric", 32)
    for key in ("cycle_a_l1", "cycle_b_l1"):
        assert after[key] < 0.5 * before[key], (before, after)


def test_training_resumes_exactly_with_its_history_pool(tmp_path):
    data = unpaired(32, 8, 0)
    info, settings = DataInfo((1, 8, 8), None), {"batch_size": 8, **QUIET}
    small = SMALL | {"pool_size": 12}  # full after 2 steps: steps 3-6 swap from it
    torch.manual_seed(0)
    whole = create_model("cyclegan", info, **small)
    fit(whole, data, max_steps=6, **settings)
    torch.manual_seed(0)
    first = create_model("cyclegan", info, **small)
    fit(first, data, max_steps=3, run_dir=tmp_path, **settings)
    assert int(first.pool_A.count) == int(first.pool_B.count) == 12
    resumed = create_model("cyclegan", info, **small)
    assert int(resumed.pool_B.count) == 0
    fit(resumed, data, max_steps=6, run_dir=tmp_path, resume=True, **settings)
    state, other = whole.state_dict(), resumed.state_dict()
    assert "pool_B.images" in state and "pool_A.count" in state
    for key in state:
        assert torch.equal(state[key], other[key]), key


# ------------------------------------------------------------------ the CLI


def unpaired_digits(base: Splits) -> Splits:
    """edges2digits with the edges of the training split in another domain, reversed."""

    task = tiny_task(base)
    edges = task.images["source"]
    source = ImageStream(edges.train.flip(0), edges.valid, edges.test, domain="edges")
    return Splits("edges2digits-unpaired", task.train, task.valid, task.test, task.train_labels,
                  task.valid_labels, task.test_labels, n_levels=17, protocol="digits edges, "
                  "unpaired", images={"source": source})  # fmt: skip


def test_train_resume_and_translate_both_ways_from_the_command_line(monkeypatch, tmp_path, capsys):
    edges2digits = "edges2digits"
    monkeypatch.setitem(TASKS, edges2digits, Task(edges2digits, "digits", tiny_task, ""))
    name = "edges2digits-unpaired"
    monkeypatch.setitem(TASKS, name, Task(name, "digits", unpaired_digits, ""))
    run = tmp_path / "run"
    quiet = ["--set", "progress=false", "--set", "tensorboard=false"]
    small = ["--set", "width=2", "--set", "n_blocks=1", "--set", "d_layers=1"]
    argv = ["train", "cyclegan", "--data", name, "--run-dir", str(run), *small, "--set",
            "max_steps=12", *quiet]  # fmt: skip
    assert main(argv) == 0  # 1,197 images in batches of 100: an epoch is 12 steps
    assert (run / "progress" / "epoch-0001.png").exists()
    report = (run / "report.md").read_text()
    assert "| test a2b | " in report and "| test b2a | " in report
    assert "Cycle reconstruction error" in report and "|F(G(a)) − a|" in report
    assert main(["train", "--resume", str(run), "--set", "max_steps=14", *quiet]) == 0
    assert "stopped: completed at step 14" in (run / "report.md").read_text()
    capsys.readouterr()
    out = tmp_path / "g.png"
    for direction in ("a2b", "b2a"):
        argv = ["translate", str(run), "--split", "test", "-n", "4", "--direction", direction,
                "-o", str(out)]  # fmt: skip
        assert main(argv) == 0
        assert f"wrote {direction} translations" in capsys.readouterr().out
    # pix2pix translates one way: b2a is a one-line error
    p2p = tmp_path / "p2p"
    assert main(["train", "pix2pix", "--data", edges2digits, "--run-dir", str(p2p), "--set",
                 "width=2", "--set", "max_steps=1", *quiet]) == 0  # fmt: skip
    capsys.readouterr()
    argv = ["translate", str(p2p), "--split", "test", "--direction", "b2a", "-o", str(out)]
    assert main(argv) == 2
    assert "pix2pix translates one way only" in error_line(capsys)
