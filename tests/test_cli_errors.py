"""Every failure a user can fix is one line, ``srpo: <where>: <what is wrong and what to do>``, exit status 2,
no traceback; ``--debug`` (before or after the command) shows the traceback instead."""

import sys

import pytest

from srpo.cli import main
from srpo.core.configlib import ConfigError


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("srpo: ") == 1, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("inputs, expected", [
    (["missing.jsonl"], "srpo: missing.jsonl: no such file"),
    (["toy:math?levels=9"], "srpo: toy:math: levels must lie in 1..5, got 9"),
    (["toy:math?size=3"], "srpo: toy:math: load_suite() got an unexpected keyword argument 'size' (keys: n, levels, "
                          "seed, split)"),
    (["humaneval?size=x"], "srpo: humaneval: size must be a whole number >= 0, got 'x'"),
    (["gym:chain_sum?size=abc"], "srpo: gym:chain_sum: size must be a whole number >= 0, got 'abc'"),
])
def test_data_errors_are_one_line(tmp_path, monkeypatch, capsys, inputs, expected):
    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--model", "toy", *inputs, "--out", str(tmp_path / "out")]) == 2
    assert _one_line(capsys) == expected


def test_a_malformed_row_names_file_and_line(tmp_path, capsys):
    (tmp_path / "bad.jsonl").write_text('{"prompt": "1+1?", "answer": "2"}\n{bad json\n')
    assert main(["eval", "--model", "toy", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "out")]) == 2
    assert _one_line(capsys).startswith(f"srpo: {tmp_path / 'bad.jsonl'}:line 2: invalid JSON")


def test_a_missing_optional_logger_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    args = ["train", "grpo", "logging.backends=[wandb]", f"run.output_dir={tmp_path / 'run'}",
            "data.train=[toy:math]", "run.progress=false"]
    assert main(args) == 2
    assert _one_line(capsys) == ("srpo: logging.backends: 'wandb' needs the wandb package (pip install "
                                 "'wandb>=0.17' (srpo's wandb extra)), or remove it from logging.backends")
    assert not (tmp_path / "run").exists()


def test_an_output_path_that_cannot_be_a_directory_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["eval", "--model", "toy", "toy:math?n=1", "--out", str(tmp_path / "file" / "out")]) == 2
    assert _one_line(capsys) == f"srpo: {tmp_path / 'file' / 'out'}: Not a directory"


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(where):
    command = ["config", "grpo", "run.total_steps=0"]
    argv = ["--debug", *command] if where == "before" else [*command, "--debug"]
    with pytest.raises(ConfigError, match="run.total_steps: must be >= 1"):
        main(argv)


def test_a_code_row_whose_reference_fails_its_tests_stops_training(tmp_path, capsys):
    import json

    rows = [{"task_id": f"Mine/{i}", "prompt": f"def add{i}(a, b):\n    \"\"\"a + b\"\"\"\n", "entry_point": f"add{i}",
             "canonical_solution": "    return a - b\n" if i == 1 else "    return a + b\n",
             "test": "def check(candidate):\n    assert candidate(1, 2) == 3\n"} for i in range(3)]
    data = tmp_path / "he.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["train", "grpo", f"data.train=[{data}]", "curriculum.preset=code_only",
            f"run.output_dir={tmp_path / 'run'}", "run.progress=false", "run.total_steps=1",
            "rollout.group_size=2", "rollout.prompts_per_step=2", "rollout.max_new_tokens=4"]
    assert main(args) == 2
    line = _one_line(capsys)
    assert line.startswith(f"srpo: {data}:line 2: reference solution fails its tests: 0/1 tests pass; test_code: fail")
    assert "(reference_fails); 1 of 3 rows" in line and "data.on_unusable=drop" in line
    assert not (tmp_path / "run").exists()
