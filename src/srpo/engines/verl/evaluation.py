"""srpo's held-out metrics from verl's validation: the ``eval/*`` names and formulas of every srpo engine.

verl's validation (``trainer.test_freq``, ``val_before_train``; `srpo verl-recipe` points ``data.val_files`` at the
held-out set and sets ``val_kwargs.n = eval.samples``) generates n responses per held-out row and scores each
with srpo's reward function, whose ``acc`` is the verifier's binary verdict. verl reduces them to its own
``val-core/<data_source>/acc/mean@n`` etc.; the trainer hook also hands the same per-sample lists to
`eval_metrics`, which counts the correct responses of each row (one problem) and aggregates them with srpo's
`srpo.eval.aggregate` (unbiased pass@k for each ``eval.ks``, avg@n, by domain and by benchmark), exactly as the
native and TRL engines' evaluation does. The result is `srpo.eval.EvalResult.flat_metrics`:
``eval/all/pass@1``, ``eval/<domain>/avg@n``, ``eval/<benchmark>/pass@k``, ...

A row's problem (uid, domain, benchmark = ``data_source``) is read from the row verl's validation loader served
(`problem_of_row`, srpo's reader of verl's layout, the reward function's routing). A response verl lost (a failed
agent-loop session) counts as wrong, as in verl's ``expected_acc_counts``: every problem has n samples.

Nothing here imports verl.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from srpo.core.problem import Problem
from srpo.eval import aggregate


def problem_of_row(data_source: Any, reward_model: Any, extra_info: Any) -> Problem:
    """The srpo problem of one validation row (verl's RL layout): source = ``data_source``, domain =
    ``extra_info.domain`` (else the reward function's routing), uid = ``extra_info.uid``."""
    from srpo.engines.verl.reward import _plain, problem_from_verl

    gold = (_plain(reward_model) or {}).get("ground_truth") if reward_model is not None else None
    problem = problem_from_verl(str(data_source or ""), gold, _plain(extra_info) or {})
    source = "" if data_source is None else str(data_source)  # the exported row's source, even "" (unnamed)
    return problem if problem.source == source else dataclasses.replace(problem, source=source)


def problems_of_batches(batches: Iterable[Mapping[str, Any]]) -> dict[str, Problem]:
    """verl uid -> problem for the batches verl's ``_validate`` read from its validation loader (each a column
    dict: ``uid`` as ``_validate`` assigned it, ``data_source``, ``reward_model``, ``extra_info``)."""
    out: dict[str, Problem] = {}
    for batch in batches:
        uids = list(batch["uid"])
        sources = list(batch.get("data_source", ["unknown"] * len(uids)))
        golds = list(batch.get("reward_model", [None] * len(uids)))
        infos = list(batch.get("extra_info", [None] * len(uids)))
        for uid, source, gold, info in zip(uids, sources, golds, infos, strict=True):
            out[str(uid)] = problem_of_row(source, gold, info)
    return out


def eval_metrics(problems: Mapping[str, Problem], sample_uids: Sequence[Any], accs: Sequence[Any] | None, n: int,
                 ks: Sequence[int]) -> dict[str, float]:
    """srpo's ``eval/*`` metrics of one verl validation.

    `problems`: verl uid -> problem, every row validated (`problems_of_batches`); `sample_uids` and `accs`: the
    per-response lists verl's ``_val_metrics_update`` receives (``sample_uids`` and
    ``reward_extra_infos_dict["acc"]``); `n` = ``eval.samples`` (``val_kwargs.n``), `ks` = ``eval.ks``. A
    response is correct when its acc > 0.5; a row with fewer than n responses has lost the rest (wrong)."""
    if accs is None:
        raise RuntimeError("srpo eval: verl's validation returned no 'acc' per response; set "
                           "reward.custom_reward_function to srpo's (pkg://srpo.engines.verl.reward, compute_score)")
    if len(accs) != len(sample_uids):
        raise ValueError(f"srpo eval: {len(accs)} acc values for {len(sample_uids)} responses")
    seen = {uid: 0 for uid in problems}
    correct = {uid: 0 for uid in problems}
    for uid, acc in zip(map(str, sample_uids), accs):
        if uid not in problems:
            raise RuntimeError(f"srpo eval: a validation response belongs to verl uid {uid}, which no validation "
                               "batch served")
        if acc is None:
            raise RuntimeError("srpo eval: a validation response has no 'acc' in its reward info")
        seen[uid] += 1
        correct[uid] += float(acc) > 0.5
    over = [uid for uid, count in seen.items() if count > n]
    if over:
        raise ValueError(f"srpo eval: verl uid {over[0]} has {seen[over[0]]} responses, more than eval.samples={n} "
                         "(actor_rollout_ref.rollout.val_kwargs.n must equal it)")
    rows = [{"uid": p.uid, "source": p.source, "domain": p.domain, "n": n, "correct": correct[uid]}
            for uid, p in problems.items()]
    if not rows:
        return {}
    return aggregate(rows, n, sorted(set(ks))).flat_metrics(prefix="eval")
