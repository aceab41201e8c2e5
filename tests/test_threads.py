"""CPU threads when the user does not choose (genzoo.threads): the CLI's environment
before torch loads, and fit's default, which the run restores when it ends."""

import os
import subprocess
import sys

import torch

from genzoo.core import DataInfo
from genzoo.models import create_model
from genzoo.threads import default_threads
from genzoo.train import fit

PROBE = (
    "from genzoo.threads import configure_cpu_threads, default_threads\n"
    "configure_cpu_threads()\n"
    "import os, torch\n"
    "print(torch.get_num_threads(), default_threads(), os.environ['OMP_WAIT_POLICY'])"
)


def probe(**env) -> list[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=base | env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    return done.stdout.split()


def test_the_cli_environment_sets_genzoos_default_before_torch_loads():
    threads, default, policy = probe()
    assert int(threads) == int(default) == max(1, min(4, (os.cpu_count() or 2) // 2))
    assert policy == "PASSIVE"


def test_what_the_user_set_wins():
    other = "2" if default_threads() == 1 else "1"
    threads, _, policy = probe(OMP_NUM_THREADS=other, OMP_WAIT_POLICY="ACTIVE")
    assert (threads, policy) == (other, "ACTIVE")


def test_fit_runs_on_the_default_threads_and_restores_the_callers():
    model = create_model("fvsbn", DataInfo((1, 3, 3), 2))
    seen = []
    before = torch.get_num_threads()
    torch.set_num_threads(default_threads() + 1)
    try:
        fit(model, torch.randint(0, 2, (16, 1, 3, 3)).float(), max_steps=2, batch_size=8,
            progress=False, tensorboard=False,
            callbacks=[lambda step, logs: seen.append(torch.get_num_threads())])  # fmt: skip
        assert seen == [default_threads()] * 2
        assert torch.get_num_threads() == default_threads() + 1
    finally:
        torch.set_num_threads(before)
