"""One config, one seed, one verdict table: the native engine, the TRL engine (2 processes, torchrun on gloo) and
the verl pieces (srpo's reward function, `SrpoStream` as verl's loader reads it, the trainer hook's records ->
metrics, driven by a stand-in of verl's step loop: a real verl step needs GPUs) draw the same prompts, take the
same history-resampling and curriculum decisions and log the same srpo metric names, with equal values wherever
the value does not depend on the model.

The model is what makes verdicts differ between engines, so all three get the same ones: `parity_scorer.verdict`
keys a response's verdict on (problem uid, index in its group), never on its text.

What the prompt stream is a function of: (config, seed, verdicts, *lookahead*). History resampling closes an
epoch only once every prompt served in it is recorded, so an engine that draws step s + 1 before scoring step s
(TRL: accelerate reads one batch ahead) serves the batch that crosses an epoch boundary from the undecided
epoch, where a synchronous engine (native, verl's sync trainer) has already dropped the solved prompts
(`srpo.sampling.epochs`, worked example). Hence:

* native == verl stand-in with lookahead 0 (verl's ``sync`` trainer): stream, verdicts, HR and curriculum state,
  metric names and model-independent values, step by step;
* TRL == verl stand-in with lookahead 1 (the step's verdicts arrive after the next step was drawn, as verl's
  ``colocate_async`` with ``num_warmup_batches=0``): the same;
* all three: the curriculum's decisions (stage per step, weights, switches) and each step's per-domain counts.

All three draw from and feed back to the one prompt stream, `srpo.sampling.stream.StepStream` (native's
`NativeStream`, TRL's `PromptStream`, verl's `SrpoStream`): `parity_scorer.StreamSpy` logs every call of its draw
and feedback methods (in the TRL processes too) and every change of the mixture or curriculum made around them,
so each pair above also makes the same stream calls, with the same arguments, in the same order, none bypasses
the stream, and ends in the same stream state (mixture, curriculum, pending steps, counters).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("trl")

from srpo.engines.verl.stream import SrpoStream, Verdict  # noqa: E402
from srpo.sampling.stream import StepStream  # noqa: E402
from srpo.tracking import read_jsonl  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from parity_scorer import GROUP_ENV, LOG_ENV, StreamSpy, TableScorer  # noqa: E402

pytestmark = pytest.mark.slow

STEPS, P, G, SWITCH = 6, 4, 2, 3
CONFIG = [
    f"run.total_steps={STEPS}", "run.progress=false", "run.save_every=0",
    'data.train=["toy:math?n=6&levels=1-1&seed=3", "toy:code?n=4&levels=1-1&seed=3"]', "data.heldout=[]",
    f"rollout.prompts_per_step={P}", f"rollout.group_size={G}", "rollout.max_new_tokens=4",
    "algorithm.micro_batch_size=8",
    # the srpo preset: history resampling drops a prompt whose epoch was all correct (hr_drop_threshold 1.0)
    f"curriculum.switch_step={SWITCH}", "curriculum.plateau_window=null", "curriculum.ramp_steps=0",
    "curriculum.code_share=0.5",
    "trl.state_check_every=1", "trl.max_lookahead=1",
]

# The keys an engine logs that the others do not, each with why (an entry ending in "/" is a prefix); every other
# key must be logged by all three at every step. `test_the_engine_only_lists_are_current` keeps them honest.
ENGINE_ONLY = {
    "native": {
        "timing/": "native's own phases (generate, score, logprobs, update) and step time; verl times its steps "
                   "in its own timing_raw",
        "actor/": "native's actor update statistics (TRL's are under trl/, verl's under its own names)",
        "train/": "the update's loss, grad norm and lr (native and TRL; verl logs its own)",
    },
    "trl": {
        "trl/": "GRPOTrainer's own metrics",
        "train/": "GRPOTrainer's loss, grad norm and lr under the native names",
        "actor/entropy": "GRPOTrainer's entropy under the native name",
        "timing/step_s": "wall time of the step (native logs it too)",
        "dist/state_checks": "cross-rank state-hash checks: only the TRL engine runs srpo in several processes",
    },
    "verl": {
        "sampler/unknown_groups": "verdict groups of a prompt the stream never served (verl may resume from an "
                                  "older checkpoint than its loader state); TRL and native fail instead",
    },
}
# Values that depend on the model's responses (their text and tokens), never compared.
MODEL_DEPENDENT = ("response_len_mean", "truncated_frac", "reflect/", "code_in_math/")


def _listed(key: str, entry: str) -> bool:
    return key.startswith(entry) if entry.endswith("/") else key == entry


def engine_keys(row: dict, engine: str) -> set[str]:
    """The srpo metric names of one engine's metrics row, without its engine-only keys."""
    return {k for k in row if k != "step" and not any(_listed(k, e) for e in ENGINE_ONLY[engine])}


def model_independent(row: dict) -> dict:
    return {k: v for k, v in row.items() if not any(m in k for m in MODEL_DEPENDENT)}


def load(*extra: str):
    from srpo.config import load_config

    return load_config("srpo", [*CONFIG, *extra])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shared_state(state: dict) -> dict:
    """The fields of a stream state every engine's `StepStream` keeps (its adapter's own left out)."""
    return {k: state[k] for k in ("version", "mixture", "curriculum", "pending", "drawn_through", "rollouts_total",
                                  "lookahead_seen")}


def run_of(stream_calls: list[list], bypass: list[str], scorer_calls: list[dict], metrics: list[dict],
           state: dict) -> dict:
    """What the comparisons read of one engine's run."""
    return {"stream_calls": stream_calls, "bypass": bypass, "stream": steps_of(scorer_calls), "metrics": metrics,
            "state": shared_state(state), "mixture": state["mixture"], "curriculum": state["curriculum"]}


def steps_of(calls: list[dict]) -> list[dict]:
    """The scorer's calls, one per step, as ``{"uids": one per served prompt, "correct": every verdict}``."""
    for c in calls:  # each prompt's G responses in a row, as `TableScorer` counts them
        assert c["uids"] == [u for u in c["uids"][::G] for _ in range(G)], c["uids"]
    return [{"uids": c["uids"][::G], "correct": c["correct"]} for c in calls]


# ---------------------------------------------------------------------------------------------- the engines
@pytest.fixture(scope="module")
def native(tmp_path_factory):
    from srpo.engines.native.trainer import Trainer

    out = tmp_path_factory.mktemp("native")
    cfg = load("engine=native", f"run.output_dir={out}")
    scorer = TableScorer(cfg.rewards, group_size=G)
    spy = StreamSpy().install()
    try:
        trainer = Trainer(cfg, scorer=scorer)
        trainer.train()
    finally:
        spy.uninstall()
    assert isinstance(trainer.stream, StepStream)
    return run_of(spy.calls, spy.bypass, scorer.calls, read_jsonl(out / "metrics.jsonl"), trainer.stream.state_dict())


@pytest.fixture(scope="module")
def trl(tmp_path_factory):
    out = tmp_path_factory.mktemp("trl")
    logs = out / "scored"
    logs.mkdir()
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
           "--master_port", str(free_port()), str(Path(__file__).parent / "parity_scorer.py"), "train", "srpo",
           *CONFIG, "engine=trl", f"run.output_dir={out / 'run'}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           LOG_ENV: str(logs), GROUP_ENV: str(G)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    ranks = [read_jsonl(logs / f"rank{r}.jsonl") for r in (0, 1)]
    assert len(ranks[0]) == len(ranks[1]) == STEPS  # one scoring per step and rank (no held-out set)
    calls = [{"uids": a["uids"] + b["uids"], "correct": a["correct"] + b["correct"]} for a, b in zip(*ranks)]
    state = [json.loads((out / "run" / "ranks" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert state[0] == state[1]
    return run_of(*spied_calls(logs), calls, read_jsonl(out / "run" / "metrics.jsonl"), state[0])


def spied_calls(logs: Path) -> tuple[list[list], list[str]]:
    """The TRL processes' `StreamSpy` logs: (stream calls, bypasses), the same on both ranks."""
    spied = [[json.loads(line) for line in (logs / f"rank{r}.stream.jsonl").read_text().splitlines()] for r in (0, 1)]
    assert spied[0] == spied[1]  # every rank feeds its stream the gathered verdicts, in the same order
    return [c for c in spied[0] if c[0] != "bypass"], [c[1] for c in spied[0] if c[0] == "bypass"]


def verl_standin(monkeypatch, lag: int, extra: tuple[str, ...]):
    """verl's step loop reduced to what srpo sees of it. The data goes through verl's layout (the recipe's rows,
    read back as `SrpoDataset` reads them); step s reads its P prompts from the loader (`SrpoStream.prompt`), every
    response is scored by srpo's reward function (`compute_score`, as verl's reward manager calls it) and the
    trainer hook's part (`SrpoHook.on_step` less the TransferQueue read, which needs verl: `record_step` then
    `srpo.engines.verl.metrics.step_metrics`) gets step s's verdicts once step s + lag has been drawn."""
    from srpo.engines.verl.setup import lookahead

    cfg = load("engine=verl", "model.device=cuda", *extra)
    assert lookahead(cfg) == lag
    spy = StreamSpy().install()
    try:
        return _verl_steps(cfg, spy, monkeypatch)
    finally:
        spy.uninstall()


def _verl_steps(cfg, spy: StreamSpy, monkeypatch) -> dict:
    """`verl_standin`'s loop, under `spy`."""
    from srpo.curriculum import Curriculum
    from srpo.data.formats import row_to_problem
    from srpo.engines.data import load_run_data
    from srpo.engines.verl import reward
    from srpo.engines.verl.metrics import step_metrics
    from srpo.engines.verl.recipe import verl_rows
    from srpo.engines.verl.setup import lookahead
    from srpo.sampling import DomainMixture

    lag = lookahead(cfg)
    scorer = TableScorer(cfg.rewards, group_size=G)
    monkeypatch.delenv(reward.CONFIG_ENV, raising=False)
    monkeypatch.setitem(reward._SCORERS, "", scorer)
    train, _ = load_run_data(cfg)
    rows = {r["extra_info"]["uid"]: r for r in verl_rows(train)}
    # srpo.engines.verl.dataset.build_stream (that module imports verl), over the problems read back from the rows
    problems = sorted((row_to_problem(r, f"row {i}", format="verl") for i, r in enumerate(rows.values())),
                      key=lambda p: p.uid)
    mixture = DomainMixture.from_problems(problems, cfg.run.seed, cfg.sampling)
    curriculum = Curriculum(cfg.curriculum, domain_sizes=mixture.domain_sizes())
    stream = SrpoStream(mixture, curriculum, problems, P, STEPS, lag)

    def responses(step: int, uids: list[str]) -> list[Verdict]:
        out = []
        for pos, uid in enumerate(uids):
            row = rows[uid]
            for _ in range(G):
                res = reward.compute_score(row["data_source"], "(a response)", row["reward_model"]["ground_truth"],
                                           row["extra_info"])
                out.append(Verdict(group=f"{step}-{pos}", uid=row["extra_info"]["uid"], correct=res["acc"] > 0.5,
                                   reward=res["score"], length=1, truncated=False))
        return out

    drawn, metrics = {}, []
    for s in range(1, STEPS + lag + 1):
        if s <= STEPS:
            drawn[s] = [stream.prompt((s - 1) * P + i).uid for i in range(P)]
        if 1 <= s - lag:
            done = s - lag
            summary = stream.record_step(done, responses(done, drawn[done]))
            m, _ = step_metrics(cfg, stream, done, summary["groups"])
            metrics.append({"step": done, **m})
    flat = [(u, c) for call in scorer.calls for u, c in zip(call["uids"], call["correct"])]  # one per response
    calls = [{"uids": [u for u, _ in flat[i:i + P * G]], "correct": [c for _, c in flat[i:i + P * G]]}
             for i in range(0, len(flat), P * G)]
    return run_of(spy.calls, spy.bypass, calls, metrics, stream.state_dict())


@pytest.fixture
def verl_sync(monkeypatch):
    return verl_standin(monkeypatch, 0, ("verl.trainer_mode=sync",))


@pytest.fixture
def verl_ahead(monkeypatch):
    return verl_standin(monkeypatch, 1, ("verl.trainer_mode=colocate_async", "verl.num_warmup_batches=0"))


# ---------------------------------------------------------------------------------------------- the comparisons
def assert_same_run(a: dict, b: dict, a_engine: str, b_engine: str) -> None:
    assert a["bypass"] == b["bypass"] == []  # no draw or feedback around the stream
    assert a["stream_calls"] == b["stream_calls"]  # the same StepStream calls, arguments and order
    assert a["state"] == b["state"]  # and the same stream state at the end
    assert a["stream"] == b["stream"]  # every step's prompts, in order, and every verdict
    assert a["mixture"] == b["mixture"]  # HR: active and dropped sets per epoch, tallies, serves, RNG positions
    assert a["curriculum"] == b["curriculum"]
    rows_a = {r["step"]: r for r in a["metrics"] if "stage" in r}
    rows_b = {r["step"]: r for r in b["metrics"] if "stage" in r}
    assert sorted(rows_a) == sorted(rows_b) == list(range(1, STEPS + 1))
    for step in rows_a:
        ka, kb = engine_keys(rows_a[step], a_engine), engine_keys(rows_b[step], b_engine)
        assert ka == kb, (step, sorted(ka - kb), sorted(kb - ka))
        va, vb = (model_independent({k: rows_a[step][k] for k in ka}),
                  model_independent({k: rows_b[step][k] for k in kb}))
        assert va == vb, (step, {k: (va[k], vb[k]) for k in va if va[k] != vb.get(k)})


def test_the_run_is_not_trivial(native):
    """HR dropped prompts and the curriculum switched where configured, so the comparisons below see both."""
    rows = {r["step"]: r for r in native["metrics"] if "stage" in r}
    assert [rows[s]["stage"] for s in range(1, STEPS + 1)] == [1.0] * (SWITCH - 1) + [2.0] * (STEPS - SWITCH + 1)
    assert sum(s["totals"]["dropped_total"] for s in native["mixture"]["samplers"].values()) >= 1
    assert any(0 < sum(c) < len(c) for step in native["stream"] for c in [step["correct"]])
    kinds = [c[0] for c in native["stream_calls"]]  # what the stream comparisons below compare
    assert kinds == ["begin_step", "draw_prompts", *["record"] * P, "observe"] * STEPS
    assert [c[1] for c in native["stream_calls"] if c[0] == "draw_prompts"] == [P] * STEPS


def test_the_spy_sees_a_draw_or_a_record_around_the_stream():
    """What `assert_same_run`'s ``bypass == []`` rules out: an engine changing the mixture outside `StepStream`."""
    from srpo.curriculum import Curriculum
    from srpo.data.sources import load_source
    from srpo.sampling import DomainMixture

    cfg = load("engine=native")
    problems = load_source("toy:math?n=6&levels=1-1&seed=3")
    mixture = DomainMixture.from_problems(problems, 0, cfg.sampling)
    stream = StepStream(mixture, Curriculum(cfg.curriculum, domain_sizes=mixture.domain_sizes()), problems, P, 2, 0)
    spy = StreamSpy().install()
    try:
        entry = stream.draw_step()
        stream.record(entry["uids"][0], [True, False])
        mixture.record(stream.by_uid[entry["uids"][1]], [True, True])
        mixture.next_batch(P, entry["weights"])
    finally:
        spy.uninstall()
    assert spy.bypass == ["DomainMixture.record", "DomainMixture.next_batch"]
    assert [c[0] for c in spy.calls] == ["begin_step", "draw_prompts", "record"]
    assert StepStream.record is not None and "call" not in StepStream.record.__qualname__  # patches undone


def test_native_equals_verl_sync(native, verl_sync):
    assert_same_run(native, verl_sync, "native", "verl")


def test_trl_equals_verl_reading_one_step_ahead(trl, verl_ahead):
    assert_same_run(trl, verl_ahead, "trl", "verl")


def test_curriculum_decisions_and_domain_counts_agree_across_lookaheads(native, trl, verl_sync, verl_ahead):
    def decisions(run):
        rows = [r for r in run["metrics"] if "stage" in r]
        return ([{k: v for k, v in r.items() if k == "stage" or k.startswith("curriculum/")
                  or k.endswith("/num_samples") or k == "groups/count"} for r in rows],
                run["curriculum"]["switches"])

    assert decisions(native) == decisions(trl) == decisions(verl_sync) == decisions(verl_ahead)


def test_history_resampling_decides_the_same_drops_and_only_the_serving_order_moves_with_the_lookahead(native, trl):
    """Epoch 0 is served before any boundary, so its drop decision is the same at every lookahead (in this run
    every drop is decided there). The lookahead moves where the stream goes on from it: the first epoch ends
    inside step 2, whose verdicts TRL has not fed back when it draws step 3, so TRL serves step 3 from the
    still-open epoch 1 (a dropped prompt may come once more) where native draws it without the dropped ones."""
    dropped = {d: s["dropped"] for d, s in native["mixture"]["samplers"].items()}
    assert dropped == {d: s["dropped"] for d, s in trl["mixture"]["samplers"].items()}
    assert all(epoch == 0 for drops in dropped.values() for _, epoch in drops) and any(dropped.values())
    assert native["stream"][:2] == trl["stream"][:2]
    assert native["stream"][2]["uids"] != trl["stream"][2]["uids"]


def test_the_engine_only_lists_are_current(native, trl, verl_sync):
    """Every engine-only entry names keys its engine logs; none of them is logged by every engine."""
    runs = {"native": native, "trl": trl, "verl": verl_sync}
    logged = {e: {k for r in run["metrics"] if "stage" in r for k in r} for e, run in runs.items()}
    for engine, entries in ENGINE_ONLY.items():
        for entry in entries:
            assert any(_listed(k, entry) for k in logged[engine]), (engine, entry)
            assert not all(any(_listed(k, entry) for k in keys) for keys in logged.values()), (engine, entry)
