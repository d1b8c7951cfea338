"""SIGTERM (how schedulers preempt) and SIGUSR1 (SLURM's ``--signal``) during `srpo train` act as a first Ctrl-C:
the step finishes, a checkpoint is saved, the message names the signal and the resume command, the exit status is
128 + N (143, 138; 130 for Ctrl-C), and the resumed run continues exactly as a straight one. A second signal
stops at once. The engines' shared `StopRequest`, the ranks' agreement and the CLI's lines are tested here too."""

import os
import shlex
import signal
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from srpo.cli import STOP_SIGNALS, _fail, main
from srpo.core.errors import Interrupted, Stopped
from srpo.engines import stop as stop_module
from srpo.engines.stop import StopRequest
from srpo.tracking import read_jsonl
from test_interrupt import STOP_S, _start, _wait_for_step
from test_trainer_smoke import write_data

SCHEDULER_SIGNALS = [signal.SIGTERM, signal.SIGUSR1]
TOY = ["model.path=toy", 'data.train=["toy:math?n=12&levels=1-2&seed=3"]', "run.total_steps=500",
       "run.save_every=0", "run.progress=false", "rollout.group_size=2", "rollout.prompts_per_step=2",
       "rollout.max_new_tokens=16"]


def _toy_args(run_dir: Path) -> list[str]:
    return ["train", "grpo", *TOY, f"run.output_dir={run_dir}"]


def _wait(proc) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=STOP_S)
    except Exception:
        proc.kill()
        raise
    return proc.returncode, err


@pytest.fixture
def handlers():
    """The stop signals' handlers as they were: `_fail` resets them to the default while exiting."""
    saved = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    yield
    for s, handler in saved.items():
        signal.signal(s, handler)


@pytest.fixture
def one_thread():
    """In-process runs compute as the subprocess (OMP_NUM_THREADS=1) does, bit for bit."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _rows(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("timing/")} for r in read_jsonl(run_dir / "metrics.jsonl")]


@pytest.mark.slow  # a training subprocess
@pytest.mark.parametrize("sig", SCHEDULER_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_a_scheduler_signal_saves_says_how_to_resume_and_the_resume_is_exact(tmp_path, sig, one_thread, handlers,
                                                                              capsys):
    run, name = tmp_path / "run", signal.Signals(sig).name
    args = _toy_args(run)
    proc = _start(args)
    _wait_for_step(proc, run / "metrics.jsonl", 1)
    os.kill(proc.pid, sig)  # to the process alone, as a scheduler does
    code, err = _wait(proc)
    assert code == 128 + sig and "Traceback" not in err, err
    step = read_jsonl(run / "metrics.jsonl")[-1]["step"]
    checkpoint = run / "checkpoints" / f"step_{step:06d}"
    assert f"srpo: {name}: stopping after this step and saving a checkpoint (another {name} stops at once" in err
    assert err.strip().splitlines()[-1] == (f"srpo: interrupted by {name} at step {step}; checkpoint {checkpoint}; "
                                            f"resume with: srpo {shlex.join(args)}")

    until = f"run.stop_at_step={step + 2}"
    assert main([*args, until]) == 0
    assert main([*_toy_args(tmp_path / "straight"), until]) == 0
    assert f"resuming from {checkpoint} (step {step})" in capsys.readouterr().out
    assert _rows(run) == _rows(tmp_path / "straight")  # every step once, the same numbers
    last = Path("checkpoints") / f"step_{step + 2:06d}" / "model.safetensors"
    a, b = load_file(run / last), load_file(tmp_path / "straight" / last)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow  # a training subprocess
def test_a_second_sigterm_stops_at_once(tmp_path, tiny_model_dir):
    """The second signal must land inside a step: on a loaded machine the step under way when the first
    arrives may end within `REPEAT_AFTER_S` (it is then saved, and the run ends as after one signal), so such a
    try is set aside and the next one runs steps four times as long."""
    write_data(tmp_path)
    for attempt, tokens in enumerate((256, 1024, 4096)):
        run = tmp_path / f"run{attempt}"
        args = ["train", "grpo", f"model.path={tiny_model_dir}", "model.prompt_template=plain",
                f"data.train=[{tmp_path / 'train.jsonl'}]", f"run.output_dir={run}", "run.total_steps=500",
                "run.save_every=0", "run.progress=false", "rollout.group_size=16", "rollout.prompts_per_step=16",
                f"rollout.max_new_tokens={tokens}"]
        proc = _start(args)
        _wait_for_step(proc, run / "metrics.jsonl", 1)  # step 1 logged (and nothing to save): step 2 under way
        os.kill(proc.pid, signal.SIGTERM)
        time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)  # within REPEAT_AFTER_S: the same request delivered twice, not a second
        time.sleep(stop_module.REPEAT_AFTER_S + 0.3)
        if list(run.glob("checkpoints/*")) or len(read_jsonl(run / "metrics.jsonl")) > 1:
            proc.kill()  # step 2 ended before the second signal: this try cannot tell
            proc.communicate()
            continue
        os.kill(proc.pid, signal.SIGTERM)
        code, err = _wait(proc)
        assert code == 143 and "Traceback" not in err, err
        assert err.strip().splitlines()[-1] == f"srpo: stopped by SIGTERM; resume from the last checkpoint with: " \
                                               f"srpo {shlex.join(args)}"
        assert not list(run.glob("checkpoints/*"))  # the step under way was not saved, nor half-written
        return
    pytest.fail("every try's step ended within a second and a half of the first signal")


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: signal.Signals(s).name)
def test_the_first_signal_asks_a_quick_repeat_is_the_same_and_a_later_one_stops(sig, monkeypatch, capfd):
    monkeypatch.setattr(stop_module, "REPEAT_AFTER_S", 0.3)
    before = signal.getsignal(sig)
    with StopRequest() as stop:
        os.kill(os.getpid(), sig)
        time.sleep(0.01)  # the handler runs between bytecodes of the main thread
        assert (stop.requested, stop.signum) == (True, sig)
        os.kill(os.getpid(), sig)
        time.sleep(0.01)
        time.sleep(0.3)
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), sig)
            time.sleep(1)
        with pytest.raises(Interrupted) as info:
            stop.raise_if_requested(3, Path("ckpt"))
    assert stopped.value.signum == sig
    assert (info.value.step, info.value.checkpoint, info.value.signum) == (3, Path("ckpt"), sig)
    assert signal.getsignal(sig) is before
    assert capfd.readouterr().err.count("stopping after this step") == 1


def test_a_signal_inherited_as_ignored_still_stops_the_run():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # as a job started with the signal ignored
    try:
        with StopRequest() as stop:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            assert stop.signum == signal.SIGTERM
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # and it is left as it was
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_ranks_agree_on_a_signal_that_reached_one_of_them():
    """Each rank passes its signal number (0: none) to `gather`; all adopt the largest, so all stop."""
    quiet, asked = StopRequest(), StopRequest()
    asked.signum = signal.SIGTERM
    everyone = [quiet.signum, asked.signum]  # what the all-gather returns on every rank
    assert quiet.agree(lambda mine: everyone) == asked.agree(lambda mine: everyone) == signal.SIGTERM
    assert quiet.requested
    assert StopRequest().agree(lambda mine: [0, 0]) == 0


@pytest.mark.parametrize("err, status, line", [
    (Interrupted(4, Path("RUN/c"), signal.SIGTERM), 143,
     "srpo: interrupted by SIGTERM at step 4; checkpoint RUN/c; resume with: srpo train x"),
    (Interrupted(4, Path("RUN/c")), 130, "srpo: interrupted by Ctrl-C at step 4; checkpoint RUN/c; resume with: "
                                         "srpo train x"),
    (Stopped(signal.SIGUSR1), 138, "srpo: stopped by SIGUSR1; resume from the last checkpoint with: srpo train x"),
    (KeyboardInterrupt(), 130, "srpo: stopped by Ctrl-C; resume from the last checkpoint with: srpo train x"),
])
def test_a_stop_exits_128_plus_the_signal_with_one_line(err, status, line, handlers, capsys):
    assert _fail(err, "train", ["train", "x"]) == status
    assert capsys.readouterr().err.strip() == line


def test_under_torchrun_rank_0_alone_says_how_to_resume(monkeypatch, handlers, capsys):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert _fail(Interrupted(4, Path("c"), signal.SIGTERM), "train", ["train", "x"]) == 143
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    _fail(Interrupted(4, Path("c"), signal.SIGTERM), "train", ["train", "x"])
    assert capsys.readouterr().err.strip() == ("srpo: interrupted by SIGTERM at step 4; checkpoint c; resume with: "
                                               "the same launch command (srpo arguments: train x)")
