"""The local web studio of `genzoo serve` (genzoo.serve.app): pages over genzoo.apps."""
