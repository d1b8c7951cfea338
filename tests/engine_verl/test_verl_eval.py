"""srpo's ``eval/*`` metrics from verl's validation output equal srpo's own evaluation on the same verdicts (no verl
needed: the inputs are the column dicts verl's validation loader serves and the per-response lists verl's
``_val_metrics_update`` receives; the same through verl's own ``_validate`` is in test_verl_trainer.py)."""

from __future__ import annotations

import dataclasses
import random
import uuid

import numpy as np
import pytest

from srpo.core.results import RewardResult
from srpo.data.loaders import load_problems
from srpo.engines.verl.evaluation import eval_metrics, problems_of_batches
from srpo.engines.verl.recipe import verl_rows
from srpo.eval import evaluate

N, KS = 4, [1, 2, 4]


def _problems():
    math = load_problems("toy:math?n=4&levels=1-2&seed=5")
    code = load_problems("toy:code?n=3&levels=1&seed=5")
    unnamed = dataclasses.replace(load_problems("toy:math?n=1&levels=3&seed=9")[0], source="")
    return math + code + [unnamed]


def _verdicts(problems, seed=0):
    rng = random.Random(seed)
    return {p.uid: [rng.random() < 0.5 for _ in range(N)] for p in problems}


def srpo_evaluation(problems, verdicts, n=N, ks=KS):
    """srpo's own evaluation (the native engine's `make_evaluator`) with responses whose verdicts are given."""
    def generate(chunk, n):
        return [[f"{p.uid}|{j}" for j in range(n)] for p in chunk]

    def score(texts, _problems):
        out = []
        for text in texts:
            uid, j = text.split("|")
            out.append(RewardResult(float(verdicts[uid][int(j)]), verdicts[uid][int(j)], {}))
        return out

    return evaluate(problems, generate, score, n=n, ks=ks).flat_metrics(prefix="eval")


def verl_validation(problems, verdicts, batch_size=3, lost=(), seed=1):
    """What verl's ``_validate`` holds when it calls ``_val_metrics_update``: the loader's column batches (numpy
    object columns, a fresh verl ``uid`` each row), and per-response ``sample_uids`` / ``acc`` lists in the order the
    replay buffer returned them; `lost`: (srpo uid, sample) pairs of failed sessions (no response)."""
    rows = verl_rows(problems)
    batches = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        batch = {k: np.array([r[k] for r in chunk], dtype=object)
                 for k in ("data_source", "reward_model", "extra_info", "ability")}
        batch["uid"] = np.array([str(uuid.uuid4()) for _ in chunk], dtype=object)
        batches.append(batch)
    samples = [(str(b["uid"][i]), verdicts[b["extra_info"][i]["uid"]][j], b["extra_info"][i]["uid"], j)
               for b in batches for i in range(len(b["uid"])) for j in range(N)]
    samples = [s for s in samples if (s[2], s[3]) not in set(lost)]
    random.Random(seed).shuffle(samples)
    return batches, [s[0] for s in samples], [1.0 if s[1] else 0.0 for s in samples]


def test_verls_validation_gives_srpos_eval_names_and_values():
    problems = _problems()
    verdicts = _verdicts(problems)
    expected = srpo_evaluation(problems, verdicts)
    batches, sample_uids, accs = verl_validation(problems, verdicts)
    got = eval_metrics(problems_of_batches(batches), sample_uids, accs, N, KS)
    assert got == expected
    for key in ("eval/all/pass@1", "eval/all/pass@4", "eval/all/avg@4", "eval/math/pass@2", "eval/code/avg@4",
                "eval/unnamed/pass@1"):
        assert key in got, key


def test_a_lost_response_counts_as_wrong_and_too_many_are_refused():
    problems = _problems()
    verdicts = _verdicts(problems, seed=3)
    first = problems[0].uid
    verdicts[first] = [True, True, True, True]
    batches, sample_uids, accs = verl_validation(problems, verdicts, lost=[(first, 2)])
    wrong = dict(verdicts, **{first: [True, True, False, True]})
    assert eval_metrics(problems_of_batches(batches), sample_uids, accs, N, KS) == srpo_evaluation(problems, wrong)
    with pytest.raises(ValueError, match="more than eval.samples=2"):
        eval_metrics(problems_of_batches(batches), sample_uids, accs, 2, [1])
    with pytest.raises(RuntimeError, match="no 'acc'"):
        eval_metrics(problems_of_batches(batches), sample_uids, None, N, KS)


def test_the_row_read_back_is_the_held_out_problem():
    problems = _problems()
    read = list(problems_of_batches(verl_validation(problems, _verdicts(problems))[0]).values())
    assert [(p.uid, p.domain, p.source) for p in read] == [(p.uid, p.domain, p.source) for p in problems]
