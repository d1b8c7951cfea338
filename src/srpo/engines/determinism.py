"""``run.deterministic``: what makes two fresh runs of one config bit-identical on this machine.

Measured on the 2-core CPU (docs in the README's "Determinism"): with one intra-op torch thread, fresh runs of
the demo config agree bit for bit (5 of 5 runs); with the default two threads they agree only to float
rounding, and the first difference (train/grad_norm, actor/approx_kl) appears within 4-10 steps (7 of 7 runs
differed from each other). MKL's reproducibility switches (MKL_CBWR=AUTO,STRICT with MKL_DYNAMIC=FALSE) did not
remove the 2-thread differences, so the setting pins the thread count itself. On CUDA it is what transformers'
``enable_full_determinism`` does: deterministic kernels and cuBLAS's fixed workspace.
"""

from __future__ import annotations

import os

import torch


def make_deterministic() -> None:
    """One intra-op CPU thread, torch's deterministic algorithms (an op without a deterministic kernel warns
    rather than ending a long run), cuBLAS's fixed workspace and cuDNN's deterministic, non-benchmarking mode.
    Process-wide; call before the model is built."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
