"""scripts/ensure-chromium.sh, run against a fake PATH: fake `id`, fake `apt-get`, no real install."""

import os
import shutil
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "ensure-chromium.sh"
BASH = shutil.which("bash")


def _bin(tmp_path, uid: int, apt_get: str | None) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("mktemp", "tail", "rm", "cat", "chmod"):
        (bindir / tool).symlink_to(shutil.which(tool))
    (bindir / "id").write_text(f"#!{BASH}\necho {uid}\n")
    if apt_get is not None:
        (bindir / "apt-get").write_text(f"#!{BASH}\n{apt_get}\n")
    for f in bindir.iterdir():
        if not f.is_symlink():
            f.chmod(0o755)
    return bindir


def _run(bindir):
    return subprocess.run([BASH, str(SCRIPT)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, "PATH": str(bindir)})


def test_present_chromium_is_a_quiet_no_op(tmp_path):
    bindir = _bin(tmp_path, 1000, apt_get="exit 99")
    (bindir / "chromium").write_text(f"#!{BASH}\n")
    (bindir / "chromium").chmod(0o755)
    proc = _run(bindir)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_not_root_fails_with_advice(tmp_path):
    proc = _run(_bin(tmp_path, 1000, apt_get=None))
    assert proc.returncode == 1 and "not root" in proc.stderr and "apt-get install" in proc.stderr


def test_root_installs_with_apt_get(tmp_path):
    bindir = tmp_path / "bin"
    fake_apt = (
        f'echo "$@" >> {tmp_path}/apt.log\n'
        f'if [ "$1" = install ]; then printf "#!{BASH}\\n" > {bindir}/chromium; chmod +x {bindir}/chromium; fi'
    )
    proc = _run(_bin(tmp_path, 0, apt_get=fake_apt))
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    calls = (tmp_path / "apt.log").read_text().splitlines()
    assert calls[0].startswith("update") and calls[1].startswith("install") and "chromium" in calls[1]


def test_failed_install_is_reported(tmp_path):
    proc = _run(_bin(tmp_path, 0, apt_get='echo "E: Unable to locate package chromium" >&2; exit 100'))
    assert proc.returncode == 1
    assert "failed" in proc.stderr and "Unable to locate package chromium" in proc.stderr
