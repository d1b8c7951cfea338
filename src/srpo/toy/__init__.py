"""The embedded default: a tiny character-level causal LM plus built-in MATH and CODE task suites.

`srpo.toy.weights.default_model_dir()` is the shipped warm-start model (``srpo/toy/assets``, Hugging Face
format: load it with `AutoModelForCausalLM` / `AutoTokenizer`). `srpo.toy.tasks` holds the procedural
suites and the held-out split, `srpo.toy.suites` the ``toy:`` data source, `srpo.toy.build` the
deterministic warm start that produced the assets, and `srpo.toy.measure` pass@k per level. See docs/toy.md.
"""
