"""The model contract, checked for every registered model with a tiny config."""

import pytest
import torch

from genzoo.core import (
    Capability,
    DataInfo,
    GenerativeModel,
    GenzooError,
    LikelihoodModel,
)
from genzoo.data.streams import DataSpec, Stream, StreamData, TensorDataset
from genzoo.data.tasks import cut_patches, patch_location_names
from genzoo.models import create_model, list_models
from genzoo.train import fit
from genzoo.train.checkpoint import load_model_weights, save_model

TINY = {
    "nade": {"hidden_dim": 8},
    "rnade": {"hidden_dim": 8},
    "made": {"hidden_dims": (16,)},
    "pixelcnn": {"hidden_channels": 4, "n_blocks": 1, "out_channels": 8},
    "row-lstm": {"hidden_channels": 4, "n_layers": 2, "out_channels": 8},
    "diagonal-bilstm": {"hidden_channels": 4, "n_layers": 2, "out_channels": 8},
    "ae": {"hidden_dims": (16,), "latent_dim": 2},
    "vae": {"hidden_dims": (16,), "latent_dim": 2},
    "aae": {"hidden_dims": (16,), "latent_dim": 2, "discriminator_dims": (8,)},
    "gan": {"hidden_dims": (16,), "latent_dim": 4},
    "dcgan": {"channels": (4, 8), "latent_dim": 4},
    "cgan": {"hidden_dims": (16,), "latent_dim": 4, "n_classes": 3},
    "infogan": {"channels": (4, 8), "latent_dim": 4, "feature_dim": 8, "n_categories": 3},
    "wgan": {"channels": (4, 8), "latent_dim": 4},
    "wgan-gp": {"channels": (4, 8), "latent_dim": 4},
    "progan": {
        "latent_dim": 4,
        "max_channels": 8,
        "channel_base": 32,
        "images_per_phase": 64,
        "ema_decay": 0.0,
    },  # fmt: skip
    "stylegan": {
        "latent_dim": 4,
        "w_dim": 4,
        "n_mapping": 2,
        "max_channels": 8,
        "channel_base": 32,
        "images_per_phase": 64,
        "ema_decay": 0.0,
    },  # fmt: skip
    "text2image": {"channels": (4, 8), "latent_dim": 4, "embedding_dim": 6, "projection_dim": 4},
    "contrastive": {"embedding_dim": 6, "joint_dim": 4, "width": 4, "feature_dim": 8},
    "pix2pix": {"width": 4},
    "cyclegan": {"width": 4, "n_blocks": 1, "d_layers": 1},
    "stargan": {"width": 4, "n_blocks": 1},
    "puzzle-gan": {"patch_size": 2, "feature_dim": 4, "latent_dim": 4, "channels": (4, 8)},
    "singan": {
        "width": 4,
        "n_blocks": 3,
        "min_size": 8,
        "steps_per_scale": 50,
        "d_steps": 1,
        "g_steps": 1,
    },
}
# images of another size than 3x3, where a model's architecture needs one
# a U-Net halves the side down to 1x1; a ResNet generator halves it twice and pads by 3;
# ProGAN and StyleGAN grow from 4x4 to a side that is a power of 2; SinGAN's unpadded 3-block
# discriminator needs a coarsest scale of 8 px, and 12 px gives three scales
SHAPES = {"progan": (1, 8, 8), "stylegan": (1, 8, 8), "pix2pix": (1, 8, 8),
          "cyclegan": (1, 8, 8), "stargan": (1, 8, 8), "singan": (1, 12, 12),
          "puzzle-gan": (1, 8, 8)}  # fmt: skip
# models of attribute domains (or of patches' places): the attributes of their tiny data
ATTRIBUTES = {"stargan": ("thick", "slanted"), "puzzle-gan": patch_location_names(3)}
NAMES = [s.name for s in list_models()]
VALIDATED = [s.name for s in list_models() if s.cls.validation_metric]
SAMPLERS = [s.name for s in list_models() if Capability.SAMPLE in s.capabilities]
TRANSLATORS = [s.name for s in list_models() if Capability.TRANSLATE in s.capabilities]
PAIRED_TRANSLATORS = [name for name in TRANSLATORS if name not in ATTRIBUTES]


def info_for(cls) -> DataInfo:
    shape = SHAPES.get(cls.registry_name, (1, 3, 3))
    attributes = ATTRIBUTES.get(cls.registry_name, ())
    if "binary" in cls.data_kinds:
        return DataInfo(shape, 2, attributes)
    if "categorical" in cls.data_kinds:
        return DataInfo(shape, 5, attributes)
    return DataInfo(shape, None, attributes)


def translate(model, x, generator=None):
    """model.translate(x), to attributes 1, 0, 1, ... for a model of attribute domains."""
    if not getattr(model, "attribute_names", ()):
        return model.translate(x, generator=generator)
    target = (torch.arange(len(model.attribute_names)) % 2 == 0).float()
    return model.translate(x, generator=generator, target=target)


def tiny(name) -> GenerativeModel:
    torch.manual_seed(0)
    spec = next(s for s in list_models() if s.name == name)
    return create_model(name, info_for(spec.cls), **TINY.get(name, {}))


def examples(model, n=8) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    shape = (n, *model.data.shape)
    if model.data.n_values is None:
        return torch.rand(shape, generator=g)
    return torch.randint(0, model.data.n_values, shape, generator=g).float()


def tiny_data(model, x) -> StreamData:
    """Every stream the model learns from, for the examples x: labels 0, 1, 2, 0, ... and
    any further image stream (a translation's "source") paired with x: x mirrored; an
    attribute vector per example (rows of 0/1) for a model of attribute domains."""
    labels = torch.arange(len(x)) % 3 if model.uses_labels else None
    data = StreamData.from_tensors(x, labels)
    extra = [name for name in model.streams if name not in data.spec.names]
    names = getattr(model, "attribute_names", ())
    if "patches" in extra:  # key patches cut from x at places (i, 0), (i, P), (i, 2P), ...
        extra.remove("patches"), extra.remove("attributes")
        K, P = model.config.n_patches, model.config.patch_size
        top = torch.arange(len(x))[:, None] % (x.shape[-2] - P + 1) + torch.zeros(K)
        left = torch.arange(K) * P % (x.shape[-1] - P + 1) + torch.zeros(len(x), 1)
        places = torch.stack([top, left], -1).flatten(1).float()  # (N, 2K)
        data = StreamData(
            DataSpec((*data.spec.streams, Stream("patches", "image", (K * x.shape[1], P, P)),
                      Stream("attributes", "attributes", (2 * K,)))),
            data.datasets | {"patches": TensorDataset(cut_patches(x, places, P)),
                             "attributes": TensorDataset(places)},
        )  # fmt: skip
    if "attributes" in extra:
        extra.remove("attributes")
        c = (torch.arange(len(x))[:, None] + torch.arange(len(names))) % 2
        data = StreamData(
            DataSpec((*data.spec.streams, Stream("attributes", "attributes", (len(names),)))),
            data.datasets | {"attributes": TensorDataset(c.float())},
        )
    if "caption" in extra:  # a caption's embedding per example: 3 distinct captions
        extra.remove("caption")
        phi = torch.eye(3, model.config.embedding_dim)[torch.arange(len(x)) % 3]
        data = StreamData(
            DataSpec((*data.spec.streams, Stream("caption", "embedding", phi.shape[1:]))),
            data.datasets | {"caption": TensorDataset(phi)},
        )
    if not extra:
        return data
    streams = (*data.spec.streams, *(Stream(n, "image", tuple(x.shape[1:])) for n in extra))
    mirrored = {n: TensorDataset(x.flip(-1)) for n in extra}
    return StreamData(DataSpec(streams), data.datasets | mirrored)


@pytest.mark.parametrize("name", SAMPLERS)
def test_sample_shape_and_range(name):
    model = tiny(name)
    x = model.sample(5)
    assert x.shape == (5, *model.data.shape)
    assert torch.isfinite(x).all()
    if model.data.n_values is not None:
        assert set(x.unique().tolist()) <= set(range(model.data.n_values))
    elif model.sample_range is not None:  # e.g. a generator's tanh: [−1, 1]
        low, high = model.sample_range
        assert x.min() >= low and x.max() <= high


@pytest.mark.parametrize("name", VALIDATED)
def test_likelihood_shape_and_finite(name):
    model = tiny(name)
    x = examples(model)
    nll = model.validation_nll(x)
    assert nll.shape == (8,) and torch.isfinite(nll).all()
    if Capability.LOG_PROB in model.capabilities:
        assert torch.allclose(model.log_prob(x), -nll)


@pytest.mark.parametrize("name", VALIDATED)
def test_training_lowers_the_validation_loss(name):
    model = tiny(name)
    x = examples(model)
    model.eval()
    before = model.validation_nll(x).mean().item()
    fit(model, x, max_steps=150, batch_size=8, lr=5e-2, progress=False, tensorboard=False)
    model.eval()
    after = model.validation_nll(x).mean().item()
    assert after < before - 0.2


# Models without a validation loss (GANs) are judged by their samples: trained on images of
# one grey level, the samples' mean moves towards it. Tiny GANs are chaotic (a seed may
# overshoot), so the test takes the median over three seeds, at rates fast enough for 300
# steps; WGAN's clipping at 0.01 leaves a 4-channel critic almost no signal, so c = 0.1.
UNVALIDATED_SAMPLERS = sorted(set(SAMPLERS) - set(VALIDATED))
FAST_GAN = {"lr_d": 3e-3, "lr_g": 3e-3}
FAST = {"wgan": {"lr_d": 5e-3, "lr_g": 5e-3, "clip": 0.1}}


@pytest.mark.parametrize("name", UNVALIDATED_SAMPLERS)
def test_training_moves_samples_towards_the_data(name):
    spec = next(s for s in list_models() if s.name == name)
    target, gaps = 0.6, []
    for seed in range(3):
        torch.manual_seed(seed)
        settings = TINY.get(name, {}) | FAST.get(name, FAST_GAN)
        model = create_model(name, info_for(spec.cls), **settings)
        x = target + 0.05 * torch.randn(64, *model.data.shape)
        labels = torch.arange(64) % 3 if model.uses_labels else None
        model.eval()
        before = (model.sample(256).mean() - target).abs().item()
        data = tiny_data(model, x) if "caption" in model.streams else x
        fit(model, data, max_steps=300, batch_size=32, labels=labels, seed=seed, progress=False,
            tensorboard=False)  # fmt: skip
        model.eval()
        gaps.append((model.sample(256).mean() - target).abs().item() / before)
    assert sorted(gaps)[1] < 0.75, gaps


@pytest.mark.parametrize("name", PAIRED_TRANSLATORS)
def test_training_brings_translations_towards_their_targets(name):
    torch.manual_seed(0)
    spec = next(s for s in list_models() if s.name == name)
    model = create_model(name, info_for(spec.cls), **(TINY.get(name, {}) | FAST_GAN))
    data = tiny_data(model, examples(model))
    source, target = data.datasets["source"].tensor, data.datasets["x"].tensor
    g = torch.Generator().manual_seed(0)
    before = (model.translate(source, generator=g) - target).abs().mean().item()
    fit(model, data, max_steps=100, batch_size=8, progress=False, tensorboard=False)
    g = torch.Generator().manual_seed(0)
    after = (model.translate(source, generator=g) - target).abs().mean().item()
    assert after < 0.7 * before, (before, after)


@pytest.mark.parametrize("name", NAMES)
def test_save_and_load_give_identical_outputs(name, tmp_path):
    model = tiny(name)
    fit(model, tiny_data(model, examples(model)), max_steps=3, batch_size=8, progress=False,
        tensorboard=False)  # fmt: skip
    save_model(tmp_path / "m.safetensors", model, {})
    torch.manual_seed(99)
    clone = create_model(name, model.data, model.config)
    load_model_weights(tmp_path / "m.safetensors", clone)
    model.eval(), clone.eval()
    x = examples(model)
    if model.validation_metric:
        assert torch.equal(model.validation_nll(x), clone.validation_nll(x))
    if Capability.ASSEMBLE in model.capabilities:  # the same z: the same image and masks
        p = torch.rand(4, *model.patch_shape) * 2 - 1
        a = model.assemble(p, generator=torch.Generator().manual_seed(3))
        b = clone.assemble(p, generator=torch.Generator().manual_seed(3))
        assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))
    if Capability.TRANSLATE in model.capabilities:  # the same dropout draw: the same outputs
        a = translate(model, x, generator=torch.Generator().manual_seed(3))
        assert torch.equal(a, translate(clone, x, generator=torch.Generator().manual_seed(3)))
    if Capability.SAMPLE not in model.capabilities:
        return
    a = model.sample(4, generator=torch.Generator().manual_seed(3))
    b = clone.sample(4, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


@pytest.mark.parametrize("name", NAMES)
def test_declared_capabilities_match_methods(name):
    model = tiny(name)
    methods = {
        Capability.SAMPLE: "sample",
        Capability.LOG_PROB: "log_prob",
        Capability.ELBO: "elbo",
        Capability.ENCODE: "encode",
        Capability.TRANSLATE: "translate",
        Capability.ASSEMBLE: "assemble",
    }
    abstract = (GenerativeModel, LikelihoodModel)  # they declare methods that only raise
    for capability, method in methods.items():
        owner = next((c for c in type(model).__mro__ if method in c.__dict__), None)
        implemented = owner is not None and owner not in abstract
        assert (capability in model.capabilities) == implemented, (capability, method)


# instances whose capabilities follow from their config, beside every registered default
VARIANTS = [(name, {}) for name in NAMES] + [
    ("aae", {"prior": "mixture", "supervised": True}),  # CONDITIONAL on a label
    ("vae", {"objective": "iwae", "k": 2}),
    ("puzzle-gan", {"mask_branch": False}),  # ASSEMBLE without masks
]


def first_condition(model):
    condition = model.condition
    if condition.kind == "text":  # an embedding φ(t)
        return torch.ones(model.config.embedding_dim)
    return 0 if condition.kind == "label" else {condition.codes[0]: 0}


def assembled(model, x) -> bool:
    """model.assemble(patches) gives an image like x and K masks (None without a mask branch)."""
    image, masks = model.assemble(torch.zeros(len(x), *model.patch_shape))
    K, (H, W) = model.config.n_patches, x.shape[-2:]
    expected = (len(x), K, H, W) if model.config.mask_branch else None
    return image.shape == x.shape and (masks if masks is None else masks.shape) == expected


# what apps call for each capability, and a check of what it returns; a model that does not
# declare the capability has no such method or refuses with a GenzooError
CALLS = {
    Capability.FEATURES: lambda m, x: (
        m.features(x).flatten(1).shape[0] == len(x) and isinstance(m.features_name, str)
    ),
    Capability.DISCRIMINATE: lambda m, x: m.discriminator_score(x).shape == (len(x),),
    Capability.CONDITIONAL: lambda m, x: m.sample(2, condition=first_condition(m)).shape[0] == 2,
    Capability.COMPLETE: lambda m, x: torch.equal(
        m.complete(x, torch.ones_like(x, dtype=torch.bool)), x
    ),  # all known: x itself
    Capability.ELBO: lambda m, x: (
        m.evaluation_terms(x, 2)["iwae_nll"].shape == (len(x),) and m.eval_k >= 1
    ),
    Capability.TRANSLATE: lambda m, x: translate(m, x).shape == x.shape,
    Capability.ASSEMBLE: lambda m, x: assembled(m, x),
    Capability.NOISE: lambda m, x: m.decode_noise(m.noise(2)).shape == (2, *m.data.shape),
    Capability.STYLES: lambda m, x: (
        m.synthesize(m.truncate(m.broadcast(m.mapping(m.noise(2))), 0.5), m.fixed_noise()).shape
        == m.mix(m.noise(2), m.noise(1), next(iter(m.layer_groups()))).shape
        == (2, *m.data.shape)
    ),
    Capability.JOINT: lambda m, x: (
        m.embed_images(x).shape == m.embed_texts(torch.ones(len(x), m.config.embedding_dim)).shape
        and torch.allclose(m.embed_images(x).norm(dim=1), torch.ones(len(x)))
    ),
}


@pytest.mark.parametrize("name, settings", VARIANTS, ids=lambda v: str(v))
def test_each_instance_declares_what_its_methods_do(name, settings):
    torch.manual_seed(0)
    spec = next(s for s in list_models() if s.name == name)
    model = create_model(name, info_for(spec.cls), **(TINY.get(name, {}) | settings))
    model.eval()
    x = examples(model, 4)
    for capability, works in CALLS.items():
        if capability in model.capabilities:
            assert works(model, x), capability
        else:
            with pytest.raises((GenzooError, AttributeError)):
                works(model, x)


@pytest.mark.parametrize("name", sorted(set(NAMES) - set(SAMPLERS)))
def test_models_that_cannot_sample_say_why(name):
    with pytest.raises(GenzooError, match="cannot sample: .{40,}"):
        tiny(name).sample(2)


OPTIONED = [s.name for s in list_models() if s.cls.sample_options]


@pytest.mark.parametrize("name", OPTIONED)
def test_declared_sampling_options_work_and_their_neutral_value_changes_nothing(name):
    model = tiny(name)
    model.eval()
    for option in model.sample_options:
        x = model.sample(6, generator=torch.Generator().manual_seed(0), **{option.name: 0.5})
        assert x.shape == (6, *model.data.shape) and torch.isfinite(x).all()
    plain = model.sample(6, generator=torch.Generator().manual_seed(0))
    # no truncation (StyleGAN's ψ = 1); T = 1
    neutral = {"truncation": 1.0 if name == "stylegan" else 1e9, "temperature": 1.0}
    for option in model.sample_options:
        same = model.sample(6, generator=torch.Generator().manual_seed(0),
                            **{option.name: neutral[option.name]})  # fmt: skip
        assert torch.equal(same, plain), option.name


def test_truncated_noise_stays_inside_and_the_cli_checks_options(capsys):
    from genzoo.cli.sampling import sample_options

    gan = tiny("gan")
    z = gan.noise(2000, torch.Generator().manual_seed(0), truncation=0.5)
    assert z.abs().max() <= 0.5 and 0.26 < z.std() < 0.31  # N(0, 1) on [-0.5, 0.5]: sd 0.283
    assert sample_options(gan, ["truncation=0.7"]) == {"truncation": 0.7}
    for bad, message in (("truncation=0", "lies in"), ("temperature=1", "no sampling option"),
                         ("truncation=x", "expected a number")):  # fmt: skip
        with pytest.raises(GenzooError, match=message):
            sample_options(gan, [bad])
