"""A run's pool: nothing unscorable gets in silently; errors name file, row and reason; counts per source."""

from __future__ import annotations

import json

import pytest

from srpo.config import load_config
from srpo.core.configlib import ConfigError
from srpo.data import DataError, Problem, load_problems
from srpo.data.pool import format_sources, load_pool
from srpo.data.usable import check_usable, code_reason, gold_reason


def _write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _null_answer_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "null.parquet"
    rows = [{"prompt": "What is 2 + 3?", "answer": "5"}, {"prompt": "What is 4 + 4?", "answer": None},
            {"prompt": "What is 1 + 6?", "answer": None}]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def test_null_answers_are_an_error_naming_file_row_and_reason(tmp_path):
    path = _null_answer_parquet(tmp_path)
    with pytest.raises(DataError) as err:
        load_pool([str(path)])
    message = str(err.value)
    assert message.startswith(f"{path}:row 1: math problem without a gold answer (no_answer)")
    assert "2 of 3 rows" in message and "data.column_mapping.answer=<column>" in message
    assert "data.on_unusable=drop" in message


def test_drop_keeps_the_rest_and_counts_by_reason(tmp_path):
    path = _null_answer_parquet(tmp_path)
    problems, [counts] = load_pool([str(path)], on_unusable="drop")
    assert [p.answer for p in problems] == ["5"]
    assert (counts.rows, counts.kept, dict(counts.dropped), counts.format) == (3, 1, {"no_answer": 2}, "srpo")
    table = format_sources([counts])
    assert table.splitlines()[0].split() == ["split", "source", "format", "rows", "domain", "kept", "dropped"]
    assert table.splitlines()[1].split()[-3:] == ["1", "no_answer", "2"]


def test_a_source_with_nothing_usable_or_no_rows_is_named(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DataError, match=f"data.train: {empty} holds no rows"):
        load_pool([str(empty)])
    bad = _write_jsonl(tmp_path / "bad.jsonl", [{"prompt": "What is 2 + 2?", "answer": None}])
    with pytest.raises(DataError, match=r"data.heldout: .*bad.jsonl has no usable problem \(all 1 rows dropped: "
                                        r"no_answer 1\)"):
        load_pool([str(bad)], on_unusable="drop", split="heldout")


def test_code_tests_the_reward_cannot_run_are_named(tmp_path):
    path = _write_jsonl(tmp_path / "code.jsonl", [
        {"prompt": "Write f.", "tests": {"kind": "function", "entry_point": "f", "cases": [{"input": [1], "output": 1}]}},
        {"prompt": "Write g.", "tests": {"kind": "bogus"}}])
    with pytest.raises(DataError, match=r"code.jsonl:line 2: tests.kind must be 'function' or 'stdio', got 'bogus' "
                                        r"\(bad_tests\); 1 of 2 rows"):
        load_pool([str(path)])


def test_malformed_rows_and_duplicates_are_counted(tmp_path, fixtures):
    problems, counts = load_pool([str(fixtures / "malformed.jsonl"), str(fixtures / "malformed.jsonl")],
                                 on_unusable="drop")
    assert len(problems) == 2
    assert dict(counts[0].dropped) == {"malformed": 3}
    assert dict(counts[1].dropped) == {"malformed": 3, "duplicate": 2} and counts[1].kept == 0


def test_builtin_sources_are_checked_too():
    problems, [counts] = load_pool(["humaneval?size=3"])
    assert len(problems) == 3 and (counts.format, counts.kept, _domain(counts)) == ("humaneval", 3, "code")


def _domain(counts):
    return format_sources([counts]).splitlines()[1].split()[4]


@pytest.mark.parametrize("gold, reason", [
    ("42", None), ("-3.5", None), ("Monday", None), ("\\frac{1}{2}", None), ("2\\sqrt{2}", None), ("(1, 2)", None),
    ("", "no_answer"), (None, "no_answer"), ("\\frac{", "gold_unparseable"),
    ('{"inputs": [1]}', "gold_unparseable"), ("def f(x): return x", "gold_unparseable")])
def test_gold_reason(gold, reason):
    found = gold_reason(gold)
    assert (found[0] if found else None) == reason


@pytest.mark.parametrize("tests, reason", [
    ({"kind": "stdio", "cases": [{"input": "1", "output": "1"}]}, None),
    ({"kind": "function", "entry_point": "f", "test_code": "assert f(1) == 1"}, None),
    (None, "no_tests"), ({"kind": "stdio", "cases": []}, "bad_tests"),
    ({"kind": "function", "entry_point": "f", "test_code": "  "}, "no_tests"),
    ({"inputs": ["1"], "outputs": ["1"]}, "bad_tests"), ({"kind": "function", "cases": []}, "bad_tests")])
def test_code_reason(tests, reason):
    found = code_reason(Problem.create("code", "p", tests=tests))
    assert (found[0] if found else None) == reason


def test_check_usable_splits_rows():
    good, bad = Problem.create("math", "1+1?", "2"), Problem.create("math", "1+2?", None)
    checked = check_usable([("a:line 1", good), ("a:line 2", bad)])
    assert checked.kept == [good] and [(d.where, d.reason) for d in checked.dropped] == [("a:line 2", "no_answer")]


def test_a_utf8_bom_is_not_data(tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"prompt": "What is 3 + 3?", "answer": "6"}).encode() + b"\n")
    assert load_problems(path)[0].answer == "6"


def test_data_config_takes_a_single_source_and_checks_format_choices(tmp_path):
    cfg = load_config("grpo", ["data.train=x.jsonl", "data.heldout=y.jsonl", "data.format=gsm8k",
                               "data.on_unusable=drop"])
    assert (cfg.data.train, cfg.data.heldout, cfg.data.format, cfg.data.on_unusable) == \
        (["x.jsonl"], ["y.jsonl"], "gsm8k", "drop")
    with pytest.raises(ConfigError, match="data.format: unknown 'nope'"):
        load_config("grpo", ["data.format=nope"])
    with pytest.raises(ConfigError, match="data.column_mapping: format 'apps' reads fixed columns"):
        load_config("grpo", ["data.format=apps", "data.column_mapping={prompt: question}"])
    with pytest.raises(ConfigError, match="data.on_unusable"):
        load_config("grpo", ["data.on_unusable=skip"])


# ------------------------------------------------------------------ reference solutions at load

def _humaneval_rows(broken: int | None = None):
    rows = []
    for i in range(3):
        body = "    return a - b\n" if i == broken else f"    return a + b + {i}\n"
        rows.append({"task_id": f"Mine/{i}", "prompt": f"def add{i}(a, b):\n    \"\"\"a + b + {i}\"\"\"\n",
                     "canonical_solution": body, "entry_point": f"add{i}",
                     "test": f"def check(candidate):\n    assert candidate(1, 2) == {3 + i}\n"})
    return rows


@pytest.fixture(scope="module")
def references():
    from srpo.data.references import ReferenceRunner

    with ReferenceRunner() as runner:
        yield runner


def test_a_failing_reference_solution_is_an_error_naming_file_row_and_reason(tmp_path, references):
    path = _write_jsonl(tmp_path / "he.jsonl", _humaneval_rows(broken=1))
    with pytest.raises(DataError) as err:
        load_pool([str(path)], references=references)
    message = str(err.value)
    assert message.startswith(f"{path}:line 2: reference solution fails its tests: 0/1 tests pass; test_code: "
                              "fail (")
    assert "(reference_fails); 1 of 3 rows" in message and "data.on_unusable=drop" in message


def test_a_failing_reference_solution_is_dropped_and_counted(tmp_path, references):
    path = _write_jsonl(tmp_path / "he.jsonl", _humaneval_rows(broken=0))
    problems, [counts] = load_pool([str(path)], on_unusable="drop", references=references)
    assert [p.uid for p in problems] == ["Mine/1", "Mine/2"]
    assert (counts.kept, dict(counts.dropped)) == (2, {"reference_fails": 1})
    assert format_sources([counts]).splitlines()[1].split()[-2:] == ["reference_fails", "1"]


def test_rows_without_a_reference_and_builtin_sources_run_nothing(tmp_path):
    rows = [{k: v for k, v in row.items() if k != "canonical_solution"} for row in _humaneval_rows(broken=0)]
    path = _write_jsonl(tmp_path / "he.jsonl", rows)
    seen = []

    def check(problems):
        seen.extend(problems)
        return [None] * len(problems)

    problems, _ = load_pool([str(path), "toy:code?n=3", "humaneval?size=2"], references=check)
    assert len(problems) == 8 and [p.uid for p in seen] == [f"Mine/{i}" for i in range(3)]
    assert load_pool([str(path)], references=None)[0] == problems[:3]


def test_training_load_checks_references(tmp_path, capsys):
    from srpo.engines.data import load_run_data

    path = _write_jsonl(tmp_path / "he.jsonl", _humaneval_rows(broken=2))
    cfg = load_config("grpo", [f"data.train=[{path}]", "curriculum.preset=code_only"])
    with pytest.raises(DataError, match=r"he.jsonl:line 3: reference solution fails its tests: .*\(reference_fails\)"):
        load_run_data(cfg)
    cfg = load_config("grpo", [f"data.train=[{path}]", "curriculum.preset=code_only", "data.on_unusable=drop"])
    train, _ = load_run_data(cfg)
    out = capsys.readouterr().out
    assert len(train) == 2 and "reference solutions: 3 run against their tests in" in out
    assert "reference_fails 1" in out


# ------------------------------------------------------------------ messages that point at the format

def test_a_forced_format_that_fails_every_row_says_the_format_looks_wrong(tmp_path):
    path = _write_jsonl(tmp_path / "he.jsonl", _humaneval_rows())
    for on_unusable in ("error", "drop"):
        with pytest.raises(DataError) as err:
            load_pool([str(path)], format="gsm8k", on_unusable=on_unusable)
        message = str(err.value)
        assert message.startswith(f"{path}:line 1: format 'gsm8k' needs a non-empty string in column 'question' "
                                  f"(malformed); all 3 rows of {path} fail the same way, so its format looks wrong")
        assert "read as format 'gsm8k' (forced with data.format" in message
        assert "look like format 'humaneval': set data.format=humaneval or auto" in message
        assert "Fix the row" not in message


def test_a_detected_format_that_fails_every_row_lists_the_choices(tmp_path):
    path = _write_jsonl(tmp_path / "q.jsonl", [{"question": "What is 2 + 2?", "meta": "4"},
                                              {"question": "What is 3 + 3?", "meta": "6"}])
    with pytest.raises(DataError) as err:
        load_pool([str(path)])
    message = str(err.value)
    assert "all 2 rows of" in message and "read as format 'srpo' (detected; columns: meta, question)" in message
    assert "one of apps, codecontests, gsm8k" in message and "data.column_mapping.<field>=<column>" in message


def test_the_no_tests_hint_maps_a_column_only_where_the_format_takes_a_mapping(tmp_path):
    apps = {"question": "Print the sum of two numbers.", "input_output": "", "solutions": "[]"}
    path = _write_jsonl(tmp_path / "apps.jsonl", [apps, {**apps, "input_output": json.dumps(
        {"inputs": ["1 2\n"], "outputs": ["3\n"]})}])
    with pytest.raises(DataError) as err:
        load_pool([str(path)])
    message = str(err.value)
    assert "(no_tests)" in message and "column_mapping" not in message
    assert "Format 'apps' reads the tests from its own columns (APPS / TACO: question, input_output" in message
    srpo_rows = _write_jsonl(tmp_path / "srpo.jsonl", [{"domain": "code", "prompt": "Write f."},
                                                       {"prompt": "What is 1 + 1?", "answer": "2"}])
    with pytest.raises(DataError, match="data.column_mapping.tests=<column>"):
        load_pool([str(srpo_rows)])
