"""The lowest layer beside core: atomic file writes, safetensors I/O and image grids, shared
by the trainer, the metrics and the apps."""
