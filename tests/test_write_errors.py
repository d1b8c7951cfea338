"""A full, read-only or forbidden disk is one line naming the file; a failed checkpoint leaves no temp directory."""

import errno

import pytest

from srpo.core import files
from srpo.core.errors import UserError
from srpo.engines.checkpoint_layout import latest_checkpoint
from srpo.engines.native import checkpoint as ckpt
from srpo.tracking import JsonlWriter


@pytest.mark.parametrize("err, problem", [
    (OSError(errno.ENOSPC, "No space left on device"), "no space left on the device"),
    (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only"),
    (PermissionError(errno.EACCES, "Permission denied"), "permission denied"),
    (RuntimeError("Error while serializing: I/O error: No space left on device (os error 28)"),
     "no space left on the device"),  # safetensors hides the errno in its text
])
def test_disk_problems_read_as_one_line(tmp_path, err, problem):
    clear = files.write_error(err, tmp_path / "x", "the checkpoint")
    assert str(clear).startswith(f"{tmp_path / 'x'}: cannot write the checkpoint: {problem}; ")


def test_an_opaque_error_on_a_nearly_full_disk_is_a_full_disk(tmp_path, monkeypatch):
    err = RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")  # torch.save
    assert files.write_error(err, tmp_path / "x", "it") is None
    monkeypatch.setattr(files.shutil, "disk_usage", lambda _: type("U", (), {"free": 4096})())
    assert "no space left" in str(files.write_error(err, tmp_path / "x" / "y", "it"))


def test_other_errors_are_not_disk_problems(tmp_path):
    assert files.write_error(ValueError("bad value"), tmp_path, "it") is None
    assert files.write_error(OSError(errno.ENOENT, "No such file"), tmp_path, "it") is None


def _save(tmp_path, policy, step=2):
    model, tokenizer = policy
    return ckpt.save_checkpoint(tmp_path, step, model, tokenizer, {"step": step}, keep=2)


@pytest.mark.parametrize("raised, expected", [(OSError(errno.ENOSPC, "No space left on device"), UserError),
                                              (KeyboardInterrupt(), KeyboardInterrupt),
                                              (RuntimeError("boom"), RuntimeError)])
def test_a_failed_checkpoint_leaves_no_temp_directory_and_latest_as_it_was(tmp_path, tiny_policy, monkeypatch,
                                                                          raised, expected):
    first = _save(tmp_path, tiny_policy, step=1)

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(ckpt.torch, "save", fail)
    with pytest.raises(expected) as info:
        _save(tmp_path, tiny_policy, step=2)
    if expected is UserError:
        assert str(info.value).startswith(f"{tmp_path / 'checkpoints' / 'step_000002'}: cannot write the checkpoint: "
                                          "no space left on the device")
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["latest", "step_000001"]
    assert latest_checkpoint(tmp_path) == first


def test_temp_directories_of_a_killed_process_are_removed_at_the_next_save(tmp_path, tiny_policy):
    (tmp_path / "checkpoints" / ".step_000001.tmp").mkdir(parents=True)
    _save(tmp_path, tiny_policy, step=2)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["latest", "step_000002"]


def test_a_log_write_on_a_full_disk_is_one_line(tmp_path):
    writer = JsonlWriter(tmp_path / "metrics.jsonl")

    class Full:
        def write(self, text):
            raise OSError(errno.ENOSPC, "No space left on device")

    writer._fh = Full()
    with pytest.raises(UserError, match=r"metrics.jsonl: cannot write the log: no space left on the device"):
        writer.write({"step": 1})
