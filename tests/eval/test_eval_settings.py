"""eval.json's settings record what the evaluation actually used."""

import json

from srpo.cli import main


def recorded(out):
    return json.loads((out / "eval.json").read_text())["settings"]


def test_prompt_template_records_plain_when_the_tokenizer_has_no_chat_template(tmp_path, tiny_model_dir):
    args = ["toy:math?n=2&levels=1-1", "--no-progress", "--set", "eval.samples=1", "--set", "rollout.max_new_tokens=2"]
    assert main(["eval", "--model", str(tiny_model_dir), "--out", str(tmp_path / "a"), *args]) == 0
    assert recorded(tmp_path / "a")["prompt_template"] == "plain"  # asked: chat (the default); no chat template
    assert main(["eval", "--model", "toy", "--out", str(tmp_path / "b"), *args]) == 0
    assert recorded(tmp_path / "b")["prompt_template"] == "chat"  # the toy tokenizer has one
