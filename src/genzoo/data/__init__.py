"""Datasets by name, their files (checksums, downloads) and the transforms models see.

splits = load("mnist")                       # uint8 (N, C, H, W) train / valid / test
t = Transform(splits.n_levels, binarize="static")
info = t.data_info(splits)                   # DataInfo for the model
x = t.fixed(splits.train, "train")
xb = t.batch(x[:64])                         # per batch
"""

from genzoo.data.catalog import dataset_names
from genzoo.data.datasets import FileStatus, fetch, file_status, load
from genzoo.data.files import data_root
from genzoo.data.splits import Splits
from genzoo.data.transforms import Transform

__all__ = [
    "FileStatus",
    "Splits",
    "Transform",
    "data_root",
    "dataset_names",
    "fetch",
    "file_status",
    "load",
]
