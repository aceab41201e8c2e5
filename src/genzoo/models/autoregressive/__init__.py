"""Explicit autoregressive models: p(x) = Π_d p(x_d | x_<d)."""

from genzoo.models.autoregressive import (
    fvsbn,  # noqa: F401
    independent,  # noqa: F401
    made,  # noqa: F401
    markov,  # noqa: F401
    nade,  # noqa: F401
    pixelcnn,  # noqa: F401
    pixelrnn,  # noqa: F401
    rnade,  # noqa: F401
)
