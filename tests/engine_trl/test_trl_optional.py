"""TRL stays an optional extra: the native engine, the CLI and the engine-agnostic parts never import it."""

import subprocess
import sys


def test_native_path_imports_no_trl():
    code = ("import sys; import srpo.cli, srpo.cli.train, srpo.engines.native.trainer, srpo.config; "
            "from srpo.cli import build_parser; build_parser(); "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('trl', 'accelerate', 'datasets')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_only_the_trl_engine_imports_trl():
    from pathlib import Path

    import srpo

    root = Path(srpo.__file__).parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if any(line.lstrip().startswith(("import trl", "from trl")) for line in p.read_text().splitlines()))
    assert all(u.startswith("engines/trl/") for u in users), users
