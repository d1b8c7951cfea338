"""Ctrl-C during `srpo train`: the first finishes the step, saves a checkpoint and says how to resume (exit 130);
a second stops at once. Both without a traceback, and without a half-written checkpoint. SIGTERM and SIGUSR1,
the schedulers' signals, are in test_signals.py."""

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import srpo
from srpo.cli import main
from srpo.core.errors import Interrupted
from srpo.engines import stop as stop_module
from srpo.engines.stop import StopRequest
from srpo.tracking import read_jsonl
from test_trainer_smoke import write_data

START_S, STOP_S = 180, 120  # bounds on start-up + two steps, and on the stop (2 shared cores)


def _args(tmp_path, model_dir, *extra):
    return ["train", "grpo", f"model.path={model_dir}", "model.prompt_template=plain",
            f"data.train=[{tmp_path / 'train.jsonl'}]", f"run.output_dir={tmp_path / 'run'}", "run.total_steps=500",
            "run.save_every=0", "run.progress=false", "rollout.group_size=2", "rollout.prompts_per_step=2",
            "rollout.max_new_tokens=8", *extra]


def _start(args):
    env = {**os.environ, "PYTHONPATH": str(Path(srpo.__file__).parents[1]), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "srpo.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_for_step(proc, metrics: Path, step: int) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and proc.poll() is None:
        if metrics.exists() and any(r.get("step", 0) >= step for r in read_jsonl(metrics)):
            return
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"no step {step} within {START_S} s: {proc.communicate()[1][-2000:]}")


def _stop(proc, signals: int) -> tuple[int, str]:
    for _ in range(signals):
        os.killpg(proc.pid, signal.SIGINT)  # to the whole process group, as a terminal's Ctrl-C
        time.sleep(stop_module.REPEAT_AFTER_S + 0.5)  # sooner, a repeat is the same request delivered twice
    try:
        _, err = proc.communicate(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running {STOP_S} s after Ctrl-C")
    return proc.returncode, err


@pytest.mark.slow  # a training subprocess
def test_ctrl_c_finishes_the_step_saves_and_says_how_to_resume(tmp_path, tiny_model_dir, capsys):
    write_data(tmp_path)
    args = _args(tmp_path, tiny_model_dir)
    proc = _start(args)
    _wait_for_step(proc, tmp_path / "run" / "metrics.jsonl", 2)
    code, err = _stop(proc, 1)
    assert code == 130 and "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    step = read_jsonl(tmp_path / "run" / "metrics.jsonl")[-1]["step"]
    checkpoint = tmp_path / "run" / "checkpoints" / f"step_{step:06d}"
    assert last == (f"srpo: interrupted by Ctrl-C at step {step}; checkpoint {checkpoint}; resume with: "
                    f"srpo {shlex.join(args)}")
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["latest", checkpoint.name]

    capsys.readouterr()
    assert main([*args, f"run.total_steps={step + 1}"]) == 0
    assert f"resuming from {checkpoint} (step {step}); taking changed settings: run.total_steps 500 -> {step + 1}" \
        in capsys.readouterr().out


@pytest.mark.slow  # a training subprocess
def test_a_second_ctrl_c_stops_at_once(tmp_path, tiny_model_dir):
    write_data(tmp_path)
    args = _args(tmp_path, tiny_model_dir, "run.save_every=1", "rollout.prompts_per_step=16", "rollout.group_size=16",
                 "rollout.max_new_tokens=256")  # steps of 3-5 s: the second Ctrl-C, 1.5 s later, lands inside one
    proc = _start(args)
    _wait_for_step(proc, tmp_path / "run" / "metrics.jsonl", 1)
    code, err = _stop(proc, 2)
    assert code in (130, -signal.SIGINT) and "Traceback" not in err, err  # -SIGINT: the second came while exiting
    # usually mid-step; on a fast machine the first Ctrl-C's step and checkpoint may finish before the second
    assert re.fullmatch(r"srpo: (stopped by Ctrl-C; resume from the last checkpoint|interrupted by Ctrl-C at "
                        r"step \d+; checkpoint \S+; resume) with: srpo train grpo .*", err.strip().splitlines()[-1])
    assert not list((tmp_path / "run" / "checkpoints").glob(".*.tmp"))


@pytest.fixture
def python_sigint_handler():
    """Python's own SIGINT handler, whatever the test process inherited: a shell starts background jobs with
    SIGINT ignored, and Python then keeps SIG_IGN instead of installing `default_int_handler`."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_the_first_sigint_asks_and_the_second_interrupts(python_sigint_handler, monkeypatch):
    monkeypatch.setattr(stop_module, "REPEAT_AFTER_S", 0.3)
    with StopRequest() as stop:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs between bytecodes of the main thread
        assert stop.requested
        time.sleep(0.3)
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        with pytest.raises(Interrupted) as info:
            stop.raise_if_requested(3, Path("ckpt"))
    assert (info.value.step, info.value.checkpoint) == (3, Path("ckpt"))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_math_verifier_workers_are_out_of_reach_of_a_terminal_ctrl_c():
    from srpo.rewards.math_verifier import MathVerifier

    with MathVerifier(workers=1) as verifier:
        verifier.start()
        [worker] = verifier._all
        assert os.getpgid(worker.proc.pid) != os.getpgid(0)
