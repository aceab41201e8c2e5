"""Image-to-image translation: models of p(y | x) for an input image x (a batch's
"source" stream) and its target y (its "x")."""

from genzoo.models.translation import cyclegan, pix2pix  # noqa: F401
