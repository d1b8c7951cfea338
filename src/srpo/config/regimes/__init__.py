"""Shipped comparison specs for `srpo compare` (see `srpo.config.compare`)."""
