"""What a model can do. Apps and the CLI read these instead of probing for methods."""

import enum


class Capability(enum.Flag):
    SAMPLE = enum.auto()  # model.sample(n)
    LOG_PROB = enum.auto()  # model.log_prob(x): exact log-likelihood in nats, shape (B,)
    ELBO = enum.auto()  # model.elbo(x): a lower bound on log p(x) in nats, shape (B,)
    ENCODE = enum.auto()  # model.encode(x): features for downstream tasks
    CONDITIONAL = enum.auto()  # model.sample(n, condition=...)
    TRANSLATE = enum.auto()  # model.translate(x): image-to-image

    @property
    def names(self) -> list[str]:
        return [c.name.lower() for c in Capability if c in self]


def density_kind(capabilities: Capability) -> str:
    """The lecture's split: explicit models write p(x) down, implicit ones only sample."""
    if Capability.LOG_PROB in capabilities:
        return "explicit (exact)"
    if Capability.ELBO in capabilities:
        return "explicit (bound)"
    if Capability.SAMPLE in capabilities:
        return "implicit"
    return "none"
