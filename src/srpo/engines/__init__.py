"""Engines run srpo's parts (samplers, curriculum, rewards, data, evaluation, analysis).

One subpackage per engine; each imports the parts, never the other way round. ``native`` is srpo's own
single-process loop (CPU and one GPU).
"""
