"""Puzzle-GAN and its task: the patches are cut at the places recorded, the losses vanish
exactly at the true places and images, the masks' IoU, FID through the same path (0 for
a model that returns the real images), update isolation, the baseline without masks, and
a short seeded run through the command line."""

import io
import math
import re
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from genzoo.apps.edit import images_of
from genzoo.cli import main
from genzoo.core import DataInfo, GenzooError
from genzoo.core.model import plain_backward
from genzoo.data.splits import Splits
from genzoo.data.tasks import (
    TASKS,
    Task,
    build_patches,
    cut_patches,
    patch_location_names,
    patch_locations,
)
from genzoo.metrics import features
from genzoo.metrics.features import TrainSettings, train_feature_network
from genzoo.metrics.puzzle import mask_iou, network_window, puzzle_metrics
from genzoo.models import create_model
from genzoo.models.adversarial.puzzle_gan import (
    appearance_loss,
    overlap_loss,
    place_masks,
    spatial_loss,
)

IMAGES = DataInfo((1, 32, 32), None, patch_location_names(3))
TINY = {"channels": (4, 8), "feature_dim": 8, "latent_dim": 4}


def items(n: int, seed: int = 0) -> torch.Tensor:
    """uint8 (n, 1, 28, 28): random grey levels inside a random box (the item), 0 outside;
    the box is 16..21 x 24..27 pixels (room for 3 patches), every 5th only 4x4."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28, dtype=torch.uint8)
    for i in range(n):
        h, w = (4, 4) if i % 5 == 4 else (16 + i % 6, 24 + i % 4)
        top = int(torch.randint(0, 28 - h + 1, (), generator=g))
        left = int(torch.randint(0, 28 - w + 1, (), generator=g))
        x[i, :, top : top + h, left : left + w] = torch.randint(40, 256, (1, h, w), generator=g)
    return x


def base_splits(n: int = 60) -> Splits:
    labels = torch.arange(n) % 3
    m = n // 2
    return Splits("items", items(n, 0), items(m, 1), items(m, 2), labels, labels[:m],
                  labels[:m], n_levels=256, protocol="test items")  # fmt: skip


def test_the_patches_are_cut_at_the_recorded_places_inside_the_item():
    base = base_splits()
    task = build_patches(base)
    inside = []  # of the patches of items with room for them
    for split in ("train", "valid", "test"):
        x, patches = task.split(split), task.images["patches"].split(split)
        places = task.attributes.split(split).reshape(len(x), 3, 2).long()
        assert x.shape[-2:] == (32, 32) and patches.shape == (len(x), 3, 8, 8)
        for n in range(len(x)):
            box = (x[n, 0] >= 32).nonzero()
            low, high = box.min(0).values, box.max(0).values
            for k, (top, left) in enumerate(places[n].tolist()):
                assert torch.equal(x[n, 0, top : top + 8, left : left + 8], patches[n, k])
                for other in places[n, :k].tolist():  # no two patches overlap
                    assert abs(top - other[0]) >= 8 or abs(left - other[1]) >= 8
                if n % 5 != 4:
                    fits = bool(low[0] <= top <= high[0] - 7 and low[1] <= left <= high[1] - 7)
                    assert fits or k > 0  # the first always fits; later ones may not
                    inside.append(fits)
    assert np.mean(inside) > 0.9
    assert torch.equal(cut_patches(task.test, task.attributes.test, 8), task.images["patches"].test)
    again = build_patches(base)  # deterministic: RandomState per split
    assert torch.equal(again.attributes.train, task.attributes.train)
    assert task.attributes.names == ("top1", "left1", "top2", "left2", "top3", "left3")


def test_a_mask_at_the_true_places_has_zero_spatial_loss_and_a_misplaced_one_does_not():
    places = torch.tensor([[0.0, 0, 8, 8, 20, 4], [3, 3, 3, 16, 18, 20]])
    M = place_masks(places, 8, (32, 32))
    assert M.shape == (2, 3, 32, 32) and torch.equal(M.sum((2, 3)), torch.full((2, 3), 64.0))
    assert spatial_loss(M, M) == 0 and spatial_loss(M, M, "l1") == 0 and overlap_loss(M) == 0
    shifted = place_masks(places + 2, 8, (32, 32))
    assert spatial_loss(shifted, M) > 0 and spatial_loss(shifted, M, "l1") > 0
    stacked = place_masks(torch.tensor([[0.0, 0, 4, 4, 20, 20]]), 8, (32, 32))  # 1 and 2 overlap
    assert overlap_loss(stacked) == pytest.approx(16 / 1024)  # a 4x4 square where 2 masks meet
    assert torch.allclose(mask_iou(M, M), torch.ones(2, 3))
    iou = mask_iou(place_masks(places + torch.tensor([4.0, 0] * 3), 8, (32, 32)), M)
    assert torch.allclose(iou, torch.full((2, 3), 32 / 96))  # half the square: 32 / (64 + 32)


def test_the_appearance_loss_vanishes_when_the_image_is_the_real_one():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 32, 32) * 2 - 1
    M = place_masks(torch.tensor([[0.0, 0, 8, 8, 20, 4]] * 2), 8, (32, 32))
    assert appearance_loss(x, M, x, M) == 0
    outside = x + (1 - M.amax(1, keepdim=True)) * 0.5  # changed where no patch is
    assert appearance_loss(outside, M, x, M) == 0
    inside = x + M[:, :1] * 0.5  # changed inside patch 1
    assert appearance_loss(inside, M, x, M) > 0
    assert appearance_loss(x, place_masks(torch.tensor([[2.0, 2, 8, 8, 20, 4]] * 2), 8,
                                          (32, 32)), x, M) > 0  # fmt: skip


@pytest.fixture(scope="module")
def items_net():
    """A feature network for the 28x28 items (a few steps: enough to tell them apart from
    noise), in the place of the one of the dataset a task shows."""
    torch.manual_seed(0)
    return train_feature_network(base_splits(200), training=TrainSettings(steps=30),
                                 show_progress=False)  # fmt: skip


class Oracle:
    """A model of key patches that returns the real images, in order, and masks at their
    true places: what a perfect model would."""

    def __init__(self, x: torch.Tensor, places: torch.Tensor):
        self.config = SimpleNamespace(patch_size=8, mask_branch=True)
        self.x, self.places, self.given = x, places, 0

    def assemble(self, patches, generator=None):
        i, self.given = self.given, self.given + len(patches)
        return self.x[i : self.given], place_masks(self.places[i : self.given], 8, (32, 32))


def test_a_model_that_returns_the_real_images_has_fid_zero_through_the_same_path(items_net):
    net, _ = items_net
    task = build_patches(base_splits(200))
    scaled = {s: task.split(s).float() / 255 * 2 - 1 for s in ("train", "test")}  # symmetric
    x, places = scaled["test"], task.attributes.test
    patches = cut_patches(x, places, 8)
    r = puzzle_metrics(Oracle(x, places), x, patches, places, "symmetric", 7, 0, net,
                       scaled["train"][: len(x)])  # fmt: skip
    assert r["patch_l1"] == 0 and r["image_l1"] == 0 and r["mask_iou"] == 1
    # the real test images against themselves: 0 up to rounding, far below what other
    # real images of the same items score (> 0), itself below noise's
    assert abs(r["fid"]) < 1e-6 * r["reference_fid"], r
    noise = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    far = puzzle_metrics(Oracle(noise, places), x, patches, places, "symmetric", 7, 0, net)
    assert far["fid"] > r["reference_fid"] and far["kid_mean"] > r["reference_kid_mean"]
    assert "reference_fid" not in far and math.isfinite(far["kid_std"])
    rows, cols = network_window(net, (x + 1) / 2)  # the 2-pixel padding is cut off
    assert (rows, cols) == (slice(2, 30), slice(2, 30))
    assert torch.equal(task.test[..., rows, cols], base_splits(200).test)
    with pytest.raises(GenzooError, match="not 8x8 ones with a black border"):
        network_window(SimpleNamespace(image_size=8), (x + 1) / 2)


def test_fashion_patches_are_judged_by_fashion_mnists_network_without_their_padding(
    shared_data_root,
):
    from genzoo import data

    assert images_of("fashion-patches") == "fashion-mnist"
    task = data.load("fashion-patches", shared_data_root)
    base = data.load("fashion-mnist", shared_data_root)
    rows, cols = network_window(SimpleNamespace(image_size=28), task.test.float() / 255)
    assert torch.equal(task.test[..., rows, cols], base.test)
    assert torch.equal(task.train[..., rows, cols], base.train)


def batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, 32, 32, generator=g) * 2 - 1
    places = torch.tensor([[0.0, 0, 8, 8, 20, 4]]).repeat(n, 1)
    return {"x": x, "patches": cut_patches(x, places, 8), "attributes": places}


def snapshot(params):
    return [p.detach().clone() for p in params]


def moved(params, before):
    return any(not torch.equal(p, q) for p, q in zip(params, before, strict=True))


def test_d_steps_move_only_d_and_g_steps_only_g():
    torch.manual_seed(0)
    model = create_model("puzzle-gan", IMAGES, **TINY)
    optimizers = model.configure_optimizers(1e-3)
    D, G = list(model.discriminator.parameters()), model.generator_parameters
    assert len(D) + len(G) == len(list(model.parameters()))
    optimizers["generator"].param_groups[0]["lr"] = 0.0  # what moves is the D step
    d, g = snapshot(D), snapshot(G)
    model.training_step(batch(), 0, optimizers, plain_backward)
    assert moved(D, d) and not moved(G, g)
    optimizers["generator"].param_groups[0]["lr"] = 2e-4
    optimizers["discriminator"].param_groups[0]["lr"] = 0.0  # what moves is the G step
    d, g = snapshot(D), snapshot(G)
    logs = model.training_step(batch(), 1, optimizers, plain_backward)
    assert moved(G, g) and not moved(D, d)
    assert {"d_loss", "g_adv", "spatial", "appr", "overlap"} <= set(logs)


def test_the_baseline_has_no_mask_branch_and_draws_the_patches_at_their_places():
    torch.manual_seed(0)
    model = create_model("puzzle-gan", IMAGES, mask_branch=False, **TINY)
    assert model.mask_generator is None
    full = create_model("puzzle-gan", IMAGES, **TINY)
    n_masks = sum(p.numel() for p in full.mask_generator.parameters())
    assert model.n_parameters() == full.n_parameters() - n_masks  # the same G otherwise
    logs = model.training_step(batch(), 0, model.configure_optimizers(1e-3), plain_backward)
    assert logs["spatial"] == 0 and logs["overlap"] == 0 and logs["appr"] > 0
    image, masks = model.assemble(batch()["patches"])
    assert image.shape == (4, 1, 32, 32) and masks is None


def test_wrong_patches_and_data_are_refused():
    model = create_model("puzzle-gan", IMAGES, **TINY)
    with pytest.raises(GenzooError, match="takes 3 patches of 8x8"):
        model.assemble(torch.zeros(2, 2, 8, 8))
    with pytest.raises(GenzooError, match="set n_patches"):
        create_model("puzzle-gan", DataInfo((1, 32, 32), None, ("thick", "slanted")), **TINY)


def test_training_on_one_batch_brings_the_masks_to_the_true_places():
    torch.manual_seed(0)
    model = create_model("puzzle-gan", IMAGES, lr_g=3e-3, lr_d=3e-3, **TINY)
    optimizers = model.configure_optimizers(1e-3)
    b = batch(8)
    M = place_masks(b["attributes"], 8, (32, 32))
    before = mask_iou(model.assemble(b["patches"])[1], M).mean()
    for step in range(150):
        model.training_step(b, step, optimizers, plain_backward)
    after = mask_iou(model.assemble(b["patches"])[1], M).mean()
    assert before < 0.2 and after > 0.8, (before, after)


def items_task(digits: Splits) -> Splits:
    """The task of key patches from 200 test items (the digits it is based on are unused)."""
    return build_patches(base_splits(200), "items-patches")


@pytest.fixture
def items_patches(monkeypatch):
    monkeypatch.setitem(TASKS, "items-patches", Task("items-patches", "digits", items_task, ""))
    return "items-patches"


def png_bytes(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (side, side), 0).save(buffer, "PNG")
    return buffer.getvalue()


def error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    return err


def test_train_sample_with_patches_and_eval_from_the_command_line(items_patches, items_net,
                                                                   tmp_path, capsys,
                                                                   monkeypatch):  # fmt: skip
    asked = []

    def items_feature_network(name, data_root=None, **kwargs):
        asked.append(name)
        return items_net

    monkeypatch.setattr(features, "feature_network", items_feature_network)
    run = tmp_path / "run"
    quiet = ["--set", "progress=false", "--set", "tensorboard=false"]
    argv = ["train", "puzzle-gan", "--data", items_patches, "--run-dir", str(run), "--set",
            "channels=4,8", "--set", "feature_dim=8", "--set", "latent_dim=4", "--set",
            "max_steps=4", "--set", "batch_size=50", "--set", "seed=3", *quiet]  # fmt: skip
    assert main(argv) == 0
    report = (run / "report.md").read_text()
    assert "patch L1 at the true places" in report and "mask IoU" in report
    fid = re.search(r"FID against the 100 real test images .*: (\S+) \(KID", report)
    assert fid and math.isfinite(float(fid.group(1))), report
    assert "of the first 100 real train images" in report and "digits-featnet" not in report
    assert "on the centred 28x28 of the 32x32 images" in report
    assert asked == [images_of(items_patches)] == ["digits"]
    assert (run / "assembled.png").exists()
    capsys.readouterr()

    task = build_patches(base_splits(200), "items-patches")
    paths = []
    for k in range(3):
        paths.append(tmp_path / f"p{k}.png")
        Image.fromarray(task.images["patches"].test[0, k].numpy()).save(paths[-1])
    out = tmp_path / "whole.png"
    given = ",".join(map(str, paths))
    assert main(["sample", str(run), "--patches", given, "-o", str(out)]) == 0
    assert "the patches | the whole image | each patch's mask" in capsys.readouterr().out
    grid = np.asarray(Image.open(out))
    assert grid.shape[1] > 6 * grid.shape[0]  # one row: 3 patches, the image, 3 masks
    assert main(["sample", str(run), "--patches", given, "-n", "2", "-o", str(out)]) == 0
    capsys.readouterr()

    assert main(["--data-root", str(tmp_path), "eval", str(run), "--seed", "3"]) == 0
    said = capsys.readouterr().out
    assert "patch L1 at the true places" in said and "mask IoU against the true places" in said
    assert f"seed 3): {fid.group(1)} (KID" in said  # the report's, from the same seed
    assert f"features of genzoo's {items_net[1]['identifier']} (not Inception)" in said

    # the baseline without masks: the same report and eval, with no IoU
    base = tmp_path / "baseline"
    assert main([*argv[:5], str(base), *argv[6:], "--set", "mask_branch=false"]) == 0
    assert "none (mask_branch=false)" in (base / "report.md").read_text()
    assert main(["sample", str(base), "--patches", given, "-o", str(out)]) == 0
    assert "no masks (mask_branch=false)" in capsys.readouterr().out

    # bad inputs: one line each, exit 2
    two = ",".join(map(str, paths[:2]))
    assert main(["sample", str(run), "--patches", two, "-o", str(out)]) == 2
    assert "takes 3 patches, got 2" in error_line(capsys)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "big.png")
    wrong = ",".join(map(str, [*paths[:2], tmp_path / "big.png"]))
    assert main(["sample", str(run), "--patches", wrong, "-o", str(out)]) == 2
    assert "is 10x10; puzzle-gan takes 8x8 patches" in error_line(capsys)
    (tmp_path / "notes.png").write_text("not an image")
    bad = ",".join(map(str, [*paths[:2], tmp_path / "notes.png"]))
    assert main(["sample", str(run), "--patches", bad, "-o", str(out)]) == 2
    assert "not a readable image" in error_line(capsys)
    missing = ",".join(map(str, [*paths[:2], tmp_path / "none.png"]))
    assert main(["sample", str(run), "--patches", missing, "-o", str(out)]) == 2
    assert "no such file" in error_line(capsys)
    assert main(["sample", str(run), "--patches", given, "--label", "1", "-o", str(out)]) == 2
    assert "does not combine with --label" in error_line(capsys)
    assert main(["sample", str(run), "-o", str(out)]) == 2  # no patches: it cannot sample
    assert "cannot sample" in error_line(capsys)
    # a model that takes no patches, and data without patches
    nade = tmp_path / "nade"
    assert main(["train", "nade", "--data", "digits", "--run-dir", str(nade), "--set",
                 "max_steps=1", *quiet]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["sample", str(nade), "--patches", given, "-o", str(out)]) == 2
    assert "nade takes no patches" in error_line(capsys)
    assert main(["train", "puzzle-gan", "--data", "digits", "--run-dir", str(tmp_path / "p"),
                 *quiet]) == 2  # fmt: skip
    assert "key local patches" in error_line(capsys) and not (tmp_path / "p").exists()
    assert main(["train", "puzzle-gan", "--data", items_patches, "--run-dir",
                 str(tmp_path / "p"), "--set", "augment=flip", *quiet]) == 2  # fmt: skip
    assert "places would not move" in error_line(capsys) and not (tmp_path / "p").exists()

    # `genzoo serve`: the Assemble page cuts an uploaded whole image's patches as the task
    # does and shows what the model makes of them; a model without masks shows none
    import base64

    from fastapi.testclient import TestClient

    from genzoo.apps import studio
    from genzoo.io.images import grid_image
    from genzoo.serve.app import Settings, create_app
    from genzoo.train.run import load_run

    def upload(c, run_id, image: bytes, seed="2"):
        files = {"image": ("item.png", image, "image/png")}
        return c.post(f"/run/{run_id}/assemble", files=files, data={"seed": seed})

    def shown(page: str, element: str) -> np.ndarray:
        data = re.search(f'id="{element}" class="grid" src="data:image/png;base64,([^"]+)"', page)
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(data.group(1)))))

    item = io.BytesIO()
    Image.fromarray(task.test[0, 0].numpy()).save(item, "PNG")
    with TestClient(create_app(Settings(tmp_path)), raise_server_exceptions=False) as c:
        assert 'href="/run/run/assemble"' in c.get("/run/run").text
        assert 'href="/run/nade/assemble"' not in c.get("/run/nade").text
        assert 'id="seed"' in c.get("/run/run/assemble").text
        r = upload(c, "run", item.getvalue())
        assert r.status_code == 200, r.text
        assert "the patches | the whole image | each patch's mask" in r.text
        outlined, rows, per_row, masks = studio.assemble_upload(
            load_run(run), studio.Upload(item.getvalue(), "item.png"), seed=2
        )
        assert per_row == 7 and len(rows) == 7 * studio.ASSEMBLIES  # 3 patches, x̂, 3 masks
        assert masks
        assert np.array_equal(shown(r.text, "assembled"), np.asarray(grid_image(rows, nrow=7)))
        assert np.array_equal(shown(r.text, "upload-places"), np.asarray(grid_image(outlined)))
        # the same places as the task's cut of this image with RandomState(seed)
        places = patch_locations(task.test[:1].numpy(), np.random.RandomState(2), 3, 8)
        patches = cut_patches(task.test[:1], torch.from_numpy(places), 8)
        framed = rows[:3, :, 12:20, 12:20]  # each patch in the middle of its 32x32 frame
        assert torch.allclose(framed, patches[0, :, None].float() / 255, atol=1e-6)
        r = upload(c, "baseline", item.getvalue())
        assert r.status_code == 200 and "each patch's mask" not in r.text
        bad = [(b"not an image", "0", "not an image PIL can read"),
               (png_bytes(28), "0", "is 28x28; this model takes 32x32"),
               (item.getvalue(), "x", "expected a whole number")]  # fmt: skip
        for image, seed, message in bad:
            r = upload(c, "run", image, seed)
            assert r.status_code == 422 and message in r.text, r.text
        assert c.get("/run/nade/assemble").status_code == 404
