"""`bench/gpu_check.sh --cpu-smoke` runs every part on tiny shapes on CPU and merges them (issue 27)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PARTS = ["install", "rollout_0.5b", "rollout_1.5b", "update_0.5b", "update_1.5b", "lora_7b", "trl_0.5b",
         "cuda_tests"]


@pytest.mark.slow
def test_cpu_smoke_writes_every_part(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run(["bash", str(ROOT / "bench" / "gpu_check.sh"), "--cpu-smoke", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=180, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert report["cpu_smoke"] is True and report["device"]
    assert set(report["parts"]) == set(PARTS)
    for name, part in report["parts"].items():
        assert part.get("status"), name
        if part["status"] != "ok":
            assert "stderr_tail" in part or part["status"] == "not run", name
    # The core parts measure something on CPU too.
    assert report["parts"]["rollout_0.5b"]["results"]["kv_cache eager"]["tok_s"] > 0
    assert report["parts"]["update_0.5b"]["results"]["plain HF fwd+bwd+AdamW"]["seconds"] > 0
    md = (tmp_path / "gpu_check.md").read_text()
    for name in PARTS:
        assert f"| {name} |" in md, name
    assert "50,000 tok/s" in md and "MFU ≥ 25%" in md and "MFU ≥ 35%" in md
