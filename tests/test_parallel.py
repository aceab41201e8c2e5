"""Several processes and mixed precision, for every kind of model: a GAN's two optimizers on
two processes equal one process on the whole batch; default-sized models through the CLI
(`devices=2` and `torchrun`) finish and exit; Ctrl-C stops them all with a checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genzoo.core import DataInfo
from genzoo.models import create_model
from genzoo.models.adversarial.gan import GAN
from genzoo.train import fit

GENZOO = str(Path(sys.executable).parent / "genzoo")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")
QUIET = {"progress": False, "tensorboard": False}
IMAGES = DataInfo((1, 4, 4), None)


class SharedNoiseGAN(GAN):
    """A GAN whose processes draw their rows of the one noise batch that a single process
    would draw, so that two processes on half batches compute exactly one process's step."""

    def noise(self, n, generator=None):
        import torch.distributed as dist

        rank, world = (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)
        g = torch.Generator().manual_seed(int(self.d_steps))
        z = torch.randn(n * world, self.config.latent_dim, generator=g)
        return z[rank * n : (rank + 1) * n]


def shared_noise_gan():
    torch.manual_seed(0)
    config = create_model("gan", IMAGES, hidden_dims=(16,), latent_dim=3, k=2).config
    return SharedNoiseGAN(config, IMAGES)


def test_a_gan_on_two_processes_equals_one_process_on_the_whole_batch(tmp_path):
    x = torch.rand(128, 1, 4, 4, generator=torch.Generator().manual_seed(1)) * 2 - 1
    settings = dict(max_steps=6, batch_size=64, **QUIET)
    single = shared_noise_gan()
    fit(single, x, **settings)
    model = shared_noise_gan()
    result = fit(model, x, devices=2, run_dir=tmp_path, **settings)
    assert result.step == 6 and result.replicas_agree is True
    assert int(model.d_steps) == 6  # three generator steps (k = 2) moved G
    for (name, a), b in zip(single.state_dict().items(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)
    start = shared_noise_gan().generator.parameters()
    assert any(
        not torch.equal(a, b) for a, b in zip(model.generator.parameters(), start, strict=True)
    )


def test_bf16_mixed_precision_trains_a_gan():
    torch.manual_seed(0)
    model = create_model("dcgan", DataInfo((1, 8, 8), None), channels=(4, 8), latent_dim=4)
    x = torch.rand(32, 1, 8, 8) * 2 - 1
    result = fit(model, x, max_steps=4, batch_size=16, precision="bf16-mixed", **QUIET)
    assert result.step == 4 and all(torch.isfinite(p).all() for p in model.parameters())


@pytest.mark.parametrize("model", ["nade", "dcgan"])
def test_two_processes_train_a_default_sized_model_and_exit(model, tmp_path):
    """A model's state once hung the launcher's pipe (about 100 KB and up): the default NADE
    has 64,564 parameters, the default DCGAN over a million."""
    run = tmp_path / "run"
    cmd = [GENZOO, "train", model, "--data", "digits", "--run-dir", str(run), "--set",
           "devices=2", "--set", "max_steps=20", "--set", "progress=false"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stopped: completed at step 20" in (run / "report.md").read_text()


def test_torchrun_runs_a_short_training_to_completion(tmp_path):
    run = tmp_path / "run"
    cmd = [TORCHRUN, "--nproc_per_node=2", GENZOO, "train", "nade", "--data", "digits",
           "--run-dir", str(run), "--set", "max_steps=20", "--set", "progress=false"]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stopped: completed at step 20" in (run / "report.md").read_text()
    assert done.stdout.count("run directory:") == 1  # the first process reports


def test_ctrl_c_during_ddp_stops_every_process_and_leaves_a_resumable_checkpoint(tmp_path):
    run = tmp_path / "run"
    cmd = [GENZOO, "train", "nade", "--data", "digits", "--run-dir", str(run), "--set",
           "devices=2", "--set", "max_steps=1000000", "--set", "progress=false"]  # fmt: skip
    # a session of its own: Ctrl-C reaches the terminal's whole process group
    proc = subprocess.Popen(cmd, cwd=tmp_path, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.time() + 120
        while not (run / "metrics.jsonl").exists() and time.time() < deadline:
            time.sleep(0.2)
        assert (run / "metrics.jsonl").exists(), "training did not start"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-2000:]
    assert "genzoo train --resume" in out
    assert "stopped: interrupted" in (run / "report.md").read_text()
    resumed = subprocess.run([GENZOO, "train", "--resume", str(run), "--set", "max_steps=20"],
                             capture_output=True, text=True, timeout=240, cwd=tmp_path)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
