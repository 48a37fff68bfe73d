"""A tiny shop: the sample workspace of `make demo`."""
