"""Image-to-image translation: models of p(y | x) for an input image x (a batch's
"source" stream) and its target y (its "x"), or of x translated to target attributes
(StarGAN: an image and its "attributes" stream)."""

from genzoo.models.translation import cyclegan, pix2pix, stargan  # noqa: F401
