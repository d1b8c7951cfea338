"""Engines run srpo's parts (samplers, curriculum, rewards, data, evaluation, analysis).

One subpackage per engine; each imports the parts, never the other way round. ``native`` is srpo's own
single-process loop (CPU and one GPU). What several engines need lives in the shared modules here (batching,
data, records, run_dir), never in one engine for another to import; tests/test_layers.py enforces it (the TRL
engine's use of native's model loading and generation helpers is the one named exception).
"""
