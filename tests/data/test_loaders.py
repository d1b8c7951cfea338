import json

import pytest

from srpo.data import DataError, Problem, export_jsonl, export_verl, iter_problems, load_problems
from srpo.data.loaders import LoadIssue


def test_humaneval_from_the_package():
    problems = load_problems("humaneval")
    assert len(problems) == 164
    first = problems[0]
    assert first.uid == "HumanEval/0" and first.domain == "code" and first.source == "humaneval"
    assert first.tests["kind"] == "function" and first.tests["entry_point"] == "has_close_elements"
    assert "def check(candidate)" in first.tests["test_code"]
    assert first.tests["prelude"].strip() == "from typing import List"
    # helper functions defined in the prompt travel in the prelude, the target function does not
    palindrome = next(p for p in problems if p.tests["entry_point"] == "make_palindrome")
    assert "def is_palindrome" in palindrome.tests["prelude"]
    assert "def make_palindrome" not in palindrome.tests["prelude"]


def test_humaneval_reference_solutions_pass_their_own_checks():
    # Run a few canonical solutions against check() in-process: proves prelude + solution + test_code
    # compose into a working program (the sandboxed scorer does the same for real).
    for problem in load_problems("humaneval?size=10"):
        env: dict = {}
        exec(problem.tests["prelude"] + "\n" + problem.metadata["solution"] + "\n" + problem.tests["test_code"], env)
        env["check"](env[problem.tests["entry_point"]])


def test_reasoning_gym_tasks_map_to_math_problems():
    problems = load_problems("gym:chain_sum?size=5&seed=3")
    again = load_problems("gym:chain_sum?size=5&seed=3")
    assert [p.uid for p in problems] == [p.uid for p in again]
    assert len({p.uid for p in problems}) == 5
    p = problems[0]
    assert p.domain == "math" and p.source == "gym:chain_sum"
    assert p.metadata["gym"] == {"dataset": "chain_sum", "seed": 3, "index": 0}
    expression = p.metadata["gym_metadata"]["expression"]
    assert str(eval(expression)) == p.answer  # the gold really is the value of the chain
    gsm = load_problems("gym:gsm_symbolic?size=2")
    assert all(q.answer and q.answer.lstrip("-").isdigit() for q in gsm)


def test_unknown_gym_task_is_a_clear_error():
    with pytest.raises(DataError, match="gym:nope"):
        load_problems("gym:nope?size=2")


def test_generic_jsonl_with_columns_detected(fixtures):
    problems = load_problems(fixtures / "aime_mini.jsonl")
    assert [p.answer for p in problems] == ["24", "9", "13"]
    assert all(p.source == "aime_mini" and p.domain == "math" for p in problems)
    assert problems[0].uid == Problem.create("math", problems[0].prompt, "24").uid


def test_trl_chat_prompt_and_mapping(fixtures):
    [p] = load_problems(fixtures / "trl_chat.jsonl")
    assert p.prompt == "What is 12 squared?" and p.answer == "144"
    assert p.metadata["system_prompt"] == "Think step by step."
    assert p.metadata["category"] == "algebra" and p.difficulty == "Level 2"
    [q] = load_problems(fixtures / "trl_chat.jsonl", mapping={"answer": "solution"})
    assert q.answer == "worked"


def test_mapping_to_a_missing_column_names_the_line(fixtures):
    with pytest.raises(DataError, match=r"aime_mini.jsonl:line 1: missing column 'question'"):
        load_problems(fixtures / "aime_mini.jsonl", mapping={"prompt": "question"})
    with pytest.raises(DataError, match="unknown field 'bogus'"):
        load_problems(fixtures / "aime_mini.jsonl", mapping={"bogus": "x"})


def test_malformed_file_errors_name_the_line(fixtures):
    with pytest.raises(DataError, match=r"malformed.jsonl:line 2: invalid JSON"):
        load_problems(fixtures / "malformed.jsonl")
    items = list(iter_problems(fixtures / "malformed.jsonl"))
    issues = [i for i in items if isinstance(i, LoadIssue)]
    assert [i.where.split(":")[-1] for i in issues] == ["line 2", "line 3", "line 4"]
    assert "no prompt column" in issues[2].message and issues[2].row == {"text": "no prompt column here", "answer": "1"}
    assert sum(isinstance(i, Problem) for i in items) == 2


def test_parquet_row_errors_name_the_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "What is one plus one?", "tests": "{bad json"}]), path)
    with pytest.raises(DataError, match=r"bad.parquet:row 0: tests is not valid JSON"):
        load_problems(path)


def test_verl_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"data_source": "openai/gsm8k", "ability": "math",
             "prompt": [{"role": "user", "content": "Natalia sold 48 clips... how many?"}],
             "reward_model": {"style": "rule", "ground_truth": "72"},
             "extra_info": {"index": 0, "split": "train"}}]
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    [p] = load_problems(path)
    assert (p.domain, p.answer, p.source) == ("math", "72", "openai/gsm8k")
    assert p.metadata["extra_info"] == {"index": 0, "split": "train"}


@pytest.mark.parametrize("name", ["x.parquet", "x.jsonl"])
def test_verl_export_round_trip(tmp_path, fixtures, name):
    problems = load_problems("humaneval?size=3") + load_problems(fixtures / "trl_chat.jsonl")
    problems[0].difficulty = "hard"
    export_verl(problems, tmp_path / name)
    assert load_problems(tmp_path / name) == problems
    if name.endswith(".jsonl"):
        row = json.loads((tmp_path / name).read_text().splitlines()[3])
        assert row["prompt"][0] == {"role": "system", "content": "Think step by step."}
        assert row["reward_model"]["ground_truth"] == "144" and row["ability"] == "math"


def test_jsonl_export_round_trip(tmp_path):
    problems = load_problems("gym:basic_arithmetic?size=4") + load_problems("humaneval?size=2")
    export_jsonl(problems, tmp_path / "p.jsonl")
    assert load_problems(tmp_path / "p.jsonl") == problems


def test_in_memory_rows_and_split_dicts():
    rows = [{"question": "What is 3 + 4 exactly?", "answer": 7}]
    [p] = load_problems(rows)
    assert p.answer == "7" and p.domain == "math"
    with pytest.raises(DataError, match="pass one split"):
        load_problems({"train": rows})


def test_unknown_file_type_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="unknown file type"):
        load_problems(tmp_path / "x.csv")
    with pytest.raises(DataError, match="no such file"):
        load_problems(tmp_path / "x.jsonl")


def test_dataset_like_objects():
    class FakeDataset(list):  # what load_problems relies on: iteration over dict rows
        column_names = ["question", "answer"]

    class FakeDatasetDict(dict):
        column_names = {"train": ["question", "answer"]}

    [p] = load_problems(FakeDataset([{"question": "What is 5 + 5 exactly?", "answer": "10"}]))
    assert p.answer == "10"
    with pytest.raises(DataError, match="pass one split"):
        load_problems(FakeDatasetDict(train=[]))
