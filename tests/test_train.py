"""The trainer: exact resume after a signal, divergence, checkpoints, early stopping, DDP."""

import json
import math
import os
import signal

import pytest
import torch

from genzoo.core import CheckpointError, DataInfo, GenzooError, TrainingDiverged
from genzoo.models import create_model
from genzoo.train import fit
from genzoo.train.checkpoint import load_checkpoint, load_model_weights, save_model

INFO = DataInfo((1, 4, 4), 2)
QUIET = {"progress": False, "tensorboard": False}


def toy_data(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(16, generator=g)
    return torch.bernoulli(p.expand(n, 16), generator=g).reshape(n, 1, 4, 4)


def fresh_model():
    torch.manual_seed(0)
    return create_model("fvsbn", INFO)


class DynamicBinarize:
    """A stochastic transform that draws from the global RNG, as dynamic binarisation does."""

    dequantize = False

    def batch(self, x, generator=None):
        return torch.bernoulli(x * 0.8 + 0.1, generator=generator)


def test_resume_after_sigterm_is_exact(tmp_path):
    x, N = toy_data(), 12
    settings = dict(max_steps=2 * N, batch_size=32, checkpoint_every=5, lr=0.05, **QUIET)

    straight = fresh_model()
    fit(straight, x, x[:50], transform=DynamicBinarize(), run_dir=tmp_path / "a", **settings)

    def kill_at_n(step, logs):
        if step == N:
            os.kill(os.getpid(), signal.SIGTERM)

    resumed = fresh_model()
    first = fit(resumed, x, x[:50], transform=DynamicBinarize(), run_dir=tmp_path / "b",
                callbacks=[kill_at_n], **settings)  # fmt: skip
    assert (first.stopped, first.step) == ("interrupted", N)
    resumed = create_model("fvsbn", INFO)  # a new process would start from scratch
    torch.manual_seed(123)  # and with another RNG state, which the checkpoint must override
    second = fit(resumed, x, x[:50], transform=DynamicBinarize(), run_dir=tmp_path / "b",
                 resume=True, **settings)  # fmt: skip
    assert (second.stopped, second.step) == ("completed", 2 * N)
    for (name, a), b in zip(
        straight.state_dict().items(), resumed.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    x = toy_data()
    model = fresh_model()
    fit(model, x, max_steps=5, checkpoint_every=5, **QUIET, run_dir=tmp_path)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()

    def poison(step, logs):
        if step == 7:
            with torch.no_grad():
                model.alpha.fill_(float("nan"))

    with pytest.raises(TrainingDiverged, match="step 8"):
        fit(model, x, max_steps=20, checkpoint_every=5, resume=True, run_dir=tmp_path,
            callbacks=[poison], **QUIET)  # fmt: skip
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before


def test_checkpoint_restores_optimizer_and_rng(tmp_path):
    x = toy_data()
    model = fresh_model()
    fit(model, x, max_steps=3, run_dir=tmp_path, **QUIET)
    other = fresh_model()
    optimizer = torch.optim.Adam(other.parameters())
    state = load_checkpoint(tmp_path / "checkpoint.safetensors", other, {"model": optimizer})
    assert state["step"] == 3
    assert optimizer.state_dict()["state"][0]["step"].item() == 3
    assert torch.equal(other.w, model.w)


def test_foreign_files_are_rejected_without_unpickling(tmp_path):
    model = fresh_model()
    pickled = tmp_path / "model.safetensors"
    torch.save(model.state_dict(), pickled)  # a pickle, under our file name
    with pytest.raises(CheckpointError, match="not a genzoo checkpoint"):
        load_model_weights(pickled, model)
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(3)}, tmp_path / "other.safetensors")  # safetensors, not ours
    with pytest.raises(CheckpointError, match="not a genzoo"):
        load_model_weights(tmp_path / "other.safetensors", model)


def test_weights_of_another_shape_are_rejected(tmp_path):
    save_model(tmp_path / "m.safetensors", create_model("fvsbn", DataInfo((1, 3, 3), 2)), {})
    with pytest.raises(CheckpointError, match="does not fit"):
        load_model_weights(tmp_path / "m.safetensors", fresh_model())


def test_no_temp_files_left_behind(tmp_path):
    fit(fresh_model(), toy_data(), toy_data(50, 1), max_steps=12, checkpoint_every=4,
        val_every=4, run_dir=tmp_path, **QUIET)  # fmt: skip
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["checkpoint.safetensors", "metrics.jsonl", "model.safetensors"]


def test_early_stopping_on_validation_nll(tmp_path):
    x = toy_data(64)
    valid = 1 - toy_data(64, 1)  # the opposite distribution: validation NLL only gets worse
    result = fit(fresh_model(), x, valid, max_steps=500, val_every=2, patience=3, lr=0.1,
                 run_dir=tmp_path, **QUIET)  # fmt: skip
    assert result.stopped == "early_stopping"
    assert result.step < 500
    valid_nll = [h["nll_nats"] for h in result.history if h["split"] == "valid"]
    assert result.best_val_nll == min(valid_nll)


def test_training_lowers_the_loss():
    x = toy_data()
    model = fresh_model()
    result = fit(model, x, max_steps=60, lr=0.05, **QUIET)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 16 * math.log(2) - 1.5  # below the uniform model's NLL


def test_ddp_two_cpu_processes_agree_with_one_process(tmp_path):
    x = toy_data(256)
    settings = dict(max_steps=6, batch_size=64, lr=0.05, **QUIET)
    single = fresh_model()
    fit(single, x, x[:64], **settings)
    model = fresh_model()
    result = fit(model, x, x[:64], devices=2, run_dir=tmp_path, **settings)
    assert result.step == 6
    assert result.replicas_agree is True
    # two processes on half batches, gradients averaged = one process on the whole batch
    for (name, a), b in zip(single.state_dict().items(), model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    assert not torch.equal(model.w, fresh_model().w)
    assert (tmp_path / "checkpoint.safetensors").exists()


def test_cosine_schedule_reaches_zero_and_resume_stays_exact(tmp_path):
    from genzoo.train.config import TrainConfig
    from genzoo.train.loop import lr_factor

    cfg = TrainConfig(lr=0.1, lr_schedule="cosine")
    assert lr_factor(cfg, 0, 10) == 1.0
    assert lr_factor(cfg, 5, 10) == pytest.approx(0.5)
    assert lr_factor(cfg, 10, 10) == pytest.approx(0.0)
    assert lr_factor(TrainConfig(), 5, 10) == 1.0  # constant

    x = toy_data()
    settings = dict(max_steps=10, lr=0.05, lr_schedule="cosine", **QUIET)
    straight = fresh_model()
    fit(straight, x, **settings)

    def kill_at_4(step, logs):
        if step == 4:
            os.kill(os.getpid(), signal.SIGTERM)

    resumed = fresh_model()
    fit(resumed, x, run_dir=tmp_path, callbacks=[kill_at_4], **settings)
    fit(resumed, x, run_dir=tmp_path, resume=True, **settings)
    assert torch.equal(straight.w, resumed.w)


def test_run_files_get_the_usual_permissions(tmp_path):
    fit(fresh_model(), toy_data(), max_steps=2, run_dir=tmp_path, **QUIET)
    mask = os.umask(0)
    os.umask(mask)
    for name in ("checkpoint.safetensors", "model.safetensors"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask


def test_micro_batches_give_the_whole_batch_gradient():
    from genzoo.core.model import accumulate_gradients, plain_backward

    x = toy_data(96).float()
    grads, losses = [], []
    for micro_batch in (0, 40):  # 96 = 40 + 40 + 16: unequal chunks are weighted
        model = fresh_model()
        out = accumulate_gradients(model.objective, x, micro_batch, plain_backward)
        grads.append([p.grad.clone() for p in model.parameters()])
        losses.append(out["loss"])
    for whole, chunked in zip(*grads, strict=True):
        torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(losses[1], losses[0])
    assert any(g.abs().sum() > 0 for g in grads[0])


def test_a_negative_micro_batch_is_refused():
    with pytest.raises(GenzooError, match="micro_batch=-1"):
        fit(fresh_model(), toy_data(32), max_steps=1, micro_batch=-1, **QUIET)


def test_cpu_budget_stops_training_and_says_so(tmp_path):
    model = fresh_model()
    result = fit(model, toy_data(), max_steps=10**6, batch_size=10, cpu_budget=0.3,
                 run_dir=tmp_path, **QUIET)  # fmt: skip
    assert result.stopped == "cpu_budget" and 0 < result.step < 10**6
    assert (tmp_path / "checkpoint.safetensors").exists()


def test_an_interrupted_report_names_the_validation_number_and_how_to_resume(tmp_path):
    from genzoo.apps.report import write_report
    from genzoo.train.loop import FitResult
    from genzoo.train.run import train_run

    settings = {"max_steps": "2", "progress": "false", "tensorboard": "false", "n_samples": "0"}
    run = train_run("fvsbn", "digits", settings, run_dir=tmp_path / "run")
    assert run.result.stopped == "completed" and run.result.step == 2
    assert not (run.path / "report.md").exists()  # the trainer writes no report
    write_report(run, run.splits, FitResult(step=2, stopped="interrupted", best_val_nll=30.5), 1.0)
    report = (run.path / "report.md").read_text()
    assert "Best validation NLL so far: 30.50 nats" in report
    assert f"genzoo train --resume {run.path}" in report
    assert "not a likelihood" not in report and "| test |" not in report


SHORT_RUN = {"max_steps": "2", "progress": "false", "tensorboard": "false", "n_samples": "0"}


def test_init_from_starts_a_new_run_from_another_runs_weights(tmp_path):
    from genzoo.apps.report import train_and_report as train_run

    source = train_run("vae", "digits", SHORT_RUN, run_dir=tmp_path / "vae")
    iwae = dict(SHORT_RUN, objective="iwae", k="4", lr="0")  # lr 0: the weights stay as loaded
    run = train_run("vae", "digits", iwae, run_dir=tmp_path / "iwae", init_from=source.path)
    for (name, a), b in zip(
        source.model.state_dict().items(), run.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert run.model.config.objective == "iwae"
    report = (run.path / "report.md").read_text()
    assert f"initialised from the trained weights of `{source.path}`" in report


def test_init_from_refuses_another_model_or_shape_and_writes_nothing(tmp_path):
    from genzoo.train.run import train_run

    source = train_run("vae", "digits", SHORT_RUN, run_dir=tmp_path / "vae")
    with pytest.raises(GenzooError, match="is a vae run, not fvsbn"):
        train_run("fvsbn", "digits", SHORT_RUN, run_dir=tmp_path / "a", init_from=source.path)
    with pytest.raises(CheckpointError, match="does not fit the model configured here"):
        train_run("vae", "digits", dict(SHORT_RUN, latent_dim="3"), run_dir=tmp_path / "b",
                  init_from=source.path)  # fmt: skip
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(GenzooError, match="cannot be combined with --resume"):
        train_run(None, "digits", {}, run_dir=source.path, resume=True, init_from=source.path)


def test_resume_refuses_a_directory_that_is_not_a_run(tmp_path):
    from genzoo.train.run import train_run

    (tmp_path / "config.json").write_text('{"model": "vae"}')
    with pytest.raises(CheckpointError, match="not a genzoo run config"):
        train_run(None, "digits", {}, run_dir=tmp_path, resume=True)


def test_a_format_1_checkpoint_loads_into_the_named_optimizers(tmp_path):
    """Checkpoints written before models named their optimizers held one optimizer: a GAN's
    Adam with the groups [discriminator, generator]. They resume into today's two."""
    from genzoo.io.files import save_tensors

    torch.manual_seed(0)
    gan = create_model("gan", DataInfo((1, 4, 4), None), hidden_dims=(8,), latent_dim=2)
    old = torch.optim.Adam([{"params": list(gan.discriminator.parameters()), "lr": 2e-4},
                            {"params": list(gan.generator.parameters()), "lr": 1e-4}])  # fmt: skip
    gan.discriminator(gan.generator(torch.randn(4, 2))).sum().backward()  # both get Adam state
    old.step()
    tensors = {f"model.{k}": v for k, v in gan.state_dict().items()}
    optim = old.state_dict()
    scalars = {}
    for idx, param_state in optim["state"].items():
        for key, value in param_state.items():
            tensors[f"optim.{idx}.{key}"] = value
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"step": 7, "optim_param_groups": optim["param_groups"], "optim_scalars": scalars}
    save_tensors(tmp_path / "checkpoint.safetensors", tensors, "genzoo-checkpoint/1", meta)

    optimizers = gan.configure_optimizers(0.0)
    state = load_checkpoint(tmp_path / "checkpoint.safetensors", gan, optimizers)
    assert state["step"] == 7
    assert optimizers["discriminator"].param_groups[0]["lr"] == 2e-4
    assert optimizers["generator"].param_groups[0]["lr"] == 1e-4
    n_d = len(list(gan.discriminator.parameters()))
    for i, p in enumerate(gan.generator.parameters()):
        new = optimizers["generator"].state[p]["exp_avg"]
        assert torch.equal(new, optim["state"][n_d + i]["exp_avg"])
    # a layout that does not line up is one line that says what to do instead
    vae = create_model("vae", INFO, hidden_dims=(8,), latent_dim=2)
    with pytest.raises(CheckpointError, match="--init-from"):
        more = vae.configure_optimizers(0.1) | {"extra": optimizers["generator"]}
        load_checkpoint(tmp_path / "checkpoint.safetensors", gan, more)


class StagedFVSBN(type(create_model("fvsbn", INFO))):
    """An FVSBN that owns its learning rate (halved at every stage of 5 steps) and keeps the
    stage as JSON training state, as a growing GAN keeps its resolution."""

    schedules_own_lr = True

    def __init__(self, config, data):
        super().__init__(config, data)
        self.stage = 0

    def training_step(self, batch, step, optimizers, backward):
        for group in optimizers["model"].param_groups:
            group["lr"] = 0.1 * 0.5**self.stage
        return super().training_step(batch, step, optimizers, backward)

    def on_train_step_end(self, step):
        self.stage = step // 5

    def train_state(self):
        return {"stage": self.stage}

    def load_train_state(self, state):
        self.stage = state["stage"]


def staged_model():
    torch.manual_seed(0)
    return StagedFVSBN(create_model("fvsbn", INFO).config, INFO)


def test_a_model_owns_its_schedule_and_its_stage_survives_resume(tmp_path):
    x = toy_data()
    whole = staged_model()
    fit(whole, x, max_steps=12, batch_size=50, **QUIET)
    assert whole.stage == 2
    first = staged_model()
    fit(first, x, max_steps=7, batch_size=50, run_dir=tmp_path, **QUIET)
    resumed = staged_model()
    fit(resumed, x, max_steps=12, batch_size=50, run_dir=tmp_path, resume=True, **QUIET)
    assert resumed.stage == 2 and torch.equal(resumed.w, whole.w)
    with pytest.raises(GenzooError, match="schedules its own learning rates"):
        fit(staged_model(), x, max_steps=1, lr_schedule="cosine", **QUIET)


def test_every_logged_loss_is_checked_for_nan():
    model = fresh_model()
    objective = model.objective
    model.objective = lambda x: objective(x) | {"kl": torch.tensor(float("nan"))}
    with pytest.raises(TrainingDiverged, match="kl became nan at step 1"):
        fit(model, toy_data(), max_steps=3, **QUIET)


class ScriptedSelector:
    """Scores 5, 3, 4, ... at the validation points: the second weights are the best."""

    key, name = "score", "scripted score"

    def __init__(self):
        self.scores, self.steps = iter([5.0, 3.0, 4.0, 6.0]), []

    def __call__(self, model):
        self.steps.append(int(model.w.sum().item() * 1000))
        return next(self.scores)


def test_a_selector_keeps_the_weights_it_scores_best(tmp_path):
    from genzoo.io.files import load_tensors
    from genzoo.train.checkpoint import MODEL_FORMAT

    select = ScriptedSelector()
    result = fit(fresh_model(), toy_data(40), max_steps=12, batch_size=10, val_every=3,
                 patience=0, run_dir=tmp_path, select=select, **QUIET)  # fmt: skip
    assert result.best_val_nll == 3.0 and result.selected_by == "scripted score"
    _, meta = load_tensors(tmp_path / "model.safetensors", MODEL_FORMAT)
    assert meta["step"] == 6  # the second validation point
    valid = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["score"] for r in valid if r["split"] == "valid"] == [5.0, 3.0, 4.0, 6.0]


def test_select_by_fid_keeps_a_gans_best_samples_and_says_so(tmp_path):
    from genzoo.apps.report import train_and_report

    settings = {"max_steps": "24", "progress": "false", "tensorboard": "false", "network": "mlp",
                "hidden_dims": "32", "latent_dim": "8", "select_by": "fid",
                "select_samples": "100", "patience": "0"}  # fmt: skip
    run = train_and_report("gan", "digits", settings, run_dir=tmp_path / "run")
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    fids = [r["fid"] for r in rows if r["split"] == "valid"]
    assert len(fids) == 2 and run.result.best_val_nll == min(fids)
    report = (run.path / "report.md").read_text()
    assert "Weights: the lowest FID of 100 samples against 100 validation images" in report
    with pytest.raises(GenzooError, match="does not sample"):
        train_and_report("ae", "digits", {"select_by": "fid"}, run_dir=tmp_path / "ae")
    assert not (tmp_path / "ae").exists()  # refused before anything was written


def blow_up_at(model, at_step):
    """A callback that makes a weight infinite after step `at_step`: the step's logged loss
    was finite, as when one huge update is what diverges."""

    def poison(step, logs):
        if step == at_step:
            with torch.no_grad():
                model.alpha.fill_(float("inf"))

    return poison


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    x = toy_data()
    model = fresh_model()
    fit(model, x, max_steps=5, checkpoint_every=5, run_dir=tmp_path, **QUIET)
    before = (tmp_path / "checkpoint.safetensors").read_bytes()
    with pytest.raises(
        TrainingDiverged, match=r"weights \(alpha\).*last good checkpoint \(step 5\)"
    ):
        fit(model, x, max_steps=20, checkpoint_every=5, resume=True, run_dir=tmp_path,
            callbacks=[blow_up_at(model, 10)], **QUIET)  # fmt: skip
    assert (tmp_path / "checkpoint.safetensors").read_bytes() == before
    # resuming from it trains on: the good checkpoint really is good
    fit(fresh_model(), x, max_steps=8, resume=True, run_dir=tmp_path, **QUIET)


def test_divergence_before_any_checkpoint_says_there_is_none(tmp_path):
    model = fresh_model()
    with pytest.raises(TrainingDiverged, match="no checkpoint was written"):
        fit(model, toy_data(), max_steps=20, checkpoint_every=10, run_dir=tmp_path,
            callbacks=[blow_up_at(model, 3)], **QUIET)  # fmt: skip
    assert not (tmp_path / "checkpoint.safetensors").exists()


def test_a_loss_that_grows_by_orders_of_magnitude_is_reported(capsys):
    model = fresh_model()
    objective = model.objective
    calls = []

    def exploding(x):
        calls.append(1)
        out = objective(x)
        return out | {"loss": out["loss"] * (1e30 if len(calls) > 5 else 1.0)}

    model.objective = exploding
    result = fit(model, toy_data(), max_steps=8, lr=0.0, **QUIET)
    assert result.stopped == "completed" and len(result.warnings) == 1
    assert "more than 1000 times its first value" in result.warnings[0]
    assert "genzoo: warning: step 6" in capsys.readouterr().err


def test_a_run_stopped_before_its_first_validation_still_reports(tmp_path):
    from genzoo.apps.report import train_and_report

    settings = dict(SHORT_RUN, max_steps="50", cpu_budget="0.000001")
    run = train_and_report("fvsbn", "digits", settings, run_dir=tmp_path / "run")
    assert run.result.stopped == "cpu_budget" and run.result.step == 1
    assert "Weights: the latest (training stopped before its first validation)" in (
        run.path / "report.md").read_text()  # fmt: skip


def test_a_runs_thread_count_does_not_outlive_it():
    # num_threads applies to the run only: a suite (or a notebook) that trains with
    # num_threads=8 must not be left running every later op on 8 spinning threads
    before = torch.get_num_threads()
    model = create_model("independent", DataInfo((1, 2, 2), 2))
    x = torch.randint(0, 2, (8, 1, 2, 2)).float()
    fit(model, x, max_steps=1, num_threads=before + 2, progress=False, tensorboard=False)
    assert torch.get_num_threads() == before
