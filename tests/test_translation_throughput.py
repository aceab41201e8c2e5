"""benchmarks/translation_throughput.py's references compute what genzoo's Pix2Pix,
CycleGAN and StarGAN compute: the same losses and parameters over a few float64 steps from
the same weights (its --check), so its throughput comparison times the same work."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "translation_throughput.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("translation_throughput", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan", "stargan"])
def test_reference_computes_what_genzoo_does(bench, name):
    worst_loss, worst_parameter = bench.check(name)
    assert worst_loss < 1e-5
    assert worst_parameter < 1e-5  # in units of the learning rate
