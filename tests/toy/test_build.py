"""The warm-start build: byte-identical output for the same arguments, config validation."""

import hashlib
import json

import pytest

from srpo.core.configlib import ConfigError
from srpo.toy import build
from srpo.cli import main
from srpo.toy.build import WarmStartConfig, draw_batch, warm_start_chunks, pick_targets


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_cli_build_is_byte_identical(tmp_path):
    argv = ["--steps", "2", "--seed", "3", "--quiet"]
    assert main(["toy-build", "--out", str(tmp_path / "a"), *argv]) == 0
    assert main(["toy-build", "--out", str(tmp_path / "b"), *argv]) == 0
    for name in ("model.safetensors", "config.json", "tokenizer.json", "build_info.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    info = json.loads((tmp_path / "a" / "build_info.json").read_text())
    assert info["model_sha256"] == _sha(tmp_path / "a" / "model.safetensors")
    assert info["warm_start"]["steps"] == 2 and info["warm_start"]["seed"] == 3
    # a different seed gives different weights (the comparison above can fail)
    assert main(["toy-build", "--out", str(tmp_path / "c"), "--steps", "2", "--seed", "4", "--quiet"]) == 0
    assert _sha(tmp_path / "c" / "model.safetensors") != _sha(tmp_path / "a" / "model.safetensors")


def test_training_changes_weights(tmp_path):
    from safetensors.torch import load_file

    small = dict(batch_size=8)
    build.train_warm_start(WarmStartConfig(steps=0, **small), tmp_path / "s0")
    build.train_warm_start(WarmStartConfig(steps=1, **small), tmp_path / "s1")
    w0, w1 = load_file(tmp_path / "s0" / "model.safetensors"), load_file(tmp_path / "s1" / "model.safetensors")
    assert w0.keys() == w1.keys()
    assert any(not (w0[k] == w1[k]).all() for k in w0)


def test_batches_are_pure_and_exclude_heldout():
    from srpo.toy.tasks import is_heldout

    cfg = WarmStartConfig()
    a, b = draw_batch(cfg, 5), draw_batch(cfg, 5)
    assert [p.uid for p in a] == [p.uid for p in b] and len(a) == cfg.batch_size
    assert [p.uid for p in draw_batch(cfg, 6)] != [p.uid for p in a]
    assert {p.domain for p in a} == {"math", "code"}
    assert not any(is_heldout(p.domain, p.prompt) for s in range(20) for p in draw_batch(cfg, s))
    levels = {(p.domain, p.difficulty) for s in range(20) for p in draw_batch(cfg, s)}
    assert levels == {("math", lv) for lv in (1, 2, 3, 4)} | {("code", lv) for lv in (1, 2, 3)}


def test_targets_mix_terse_and_step_by_step_per_example():
    """A seeded per-example choice: pure, about `terse_fraction` terse, and all of one kind at 0 and 1."""
    cfg = WarmStartConfig(terse_fraction=0.7)
    problems = [p for s in range(10) for p in draw_batch(cfg, s)]
    multi = [p for p in problems if p.metadata["terse"] != p.metadata["solution"]]
    picks = [t for s in range(10) for t in pick_targets(cfg, s, draw_batch(cfg, s))]
    assert picks == [t for s in range(10) for t in pick_targets(cfg, s, draw_batch(cfg, s))]
    chosen = [t for p, t in zip(problems, picks) if p in multi]
    terse = sum(t == p.metadata["terse"] for p, t in zip(multi, chosen))
    assert all(t in (p.metadata["terse"], p.metadata["solution"]) for p, t in zip(multi, chosen))
    assert 0.6 < terse / len(multi) < 0.8, terse / len(multi)
    batch = draw_batch(cfg, 0)
    for frac, key in ((0.0, "solution"), (1.0, "terse")):
        assert pick_targets(WarmStartConfig(terse_fraction=frac), 0, batch) == [p.metadata[key] for p in batch]


def test_micro_batches_keep_every_row_and_trim_padding():
    import torch

    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 0, 0, 0], [1, 1, 1, 0, 0]])
    batch = {"input_ids": torch.arange(15).view(3, 5), "attention_mask": mask, "labels": torch.arange(15).view(3, 5)}
    chunks = warm_start_chunks(batch, 2)
    assert [c["input_ids"].shape for c in chunks] == [(2, 3), (1, 4)]
    assert chunks[0]["input_ids"][:, 0].tolist() == [5, 10] and chunks[1]["input_ids"][0, 0] == 0


@pytest.mark.parametrize("field,value", [("batch_size", 0), ("code_fraction", 1.5), ("math_levels", (0,)),
                                         ("code_levels", (5,)), ("lr", 0.0),
                                         ("terse_fraction", -0.1)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        WarmStartConfig(**{field: value}).validate()


def test_checked_fraction_zero_keeps_the_shipped_targets_and_positive_mixes_in_checks():
    """checked_fraction=0 leaves every target as the shipped build had it (its SHA cannot move); > 0 swaps
    about that share of the MATH targets for the checked form, never a code one, with the other targets
    unchanged."""
    base = WarmStartConfig()
    checked = WarmStartConfig(checked_fraction=0.1)
    n_math = n_checked = 0
    for s in range(20):
        batch = draw_batch(base, s)
        assert [p.uid for p in draw_batch(checked, s)] == [p.uid for p in batch]   # same problems
        plain, mixed = pick_targets(base, s, batch), pick_targets(checked, s, batch)
        assert all("let me check" not in t for t in plain)
        assert plain == pick_targets(WarmStartConfig(checked_fraction=0.0), s, batch)
        for p, a, b in zip(batch, plain, mixed):
            if b != a:
                assert p.domain == "math" and b == p.metadata["checked"]
            n_math += p.domain == "math"
            n_checked += b == p.metadata.get("checked")
    assert 0.06 < n_checked / n_math < 0.14, n_checked / n_math
    assert pick_targets(checked, 3, draw_batch(checked, 3)) == pick_targets(checked, 3, draw_batch(checked, 3))
    with pytest.raises(ConfigError, match="checked_fraction"):
        WarmStartConfig(checked_fraction=1.5).validate()
