"""Engines run srpo's parts (samplers, curriculum, rewards, data, evaluation, analysis).

One subpackage per engine; each imports the parts, never the other way round. ``native`` is srpo's own
single-process loop (CPU and one GPU). What several engines need lives in the shared modules here (batching,
checkpoint_layout, data, hf_model, lora, records, run_dir, stop), never in one engine for another to import;
tests/test_layers.py enforces it. The one named exception: the TRL engine evaluates with native's generate
function (`native.generation`), which samples with native's rollout engines.
"""
