"""Deterministic warm start of the toy model: supervised training on reference solutions.

    srpo toy-build --out DIR [--steps N] [--seed S]

Recipe (defaults of `WarmStartConfig`): a fresh `ToyModelConfig()` model; each step draws `batch_size`
training problems (never held-out ones) with their (domain, level) picked by a seeded RNG from
math levels 1-4 and code levels 1-3 (`code_fraction` of them code); the loss is the mean token
cross-entropy over response tokens (reference solution + eos; prompt and padding masked out). Each target
is terse, step-by-step or (math only, with `checked_fraction` > 0: the reflective variant of docs/toy.md)
checked, see `pick_targets`. AdamW,
linear warm-up then a constant learning rate, so that the model after N steps is the same whatever the
planned length: `--steps` is the early-stopping knob. bf16 autocast on CPU, fp32 master weights.

Determinism: one thread, `torch.use_deterministic_algorithms(True)`, every RNG seeded from `--seed`, and
data drawn from the pure task generators, so the same arguments on the same machine and software give
byte-identical `model.safetensors`. (Other CPUs or library versions may round differently.)
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from srpo.core.configlib import ConfigError, option
from srpo.toy import tasks
from srpo.toy.model import ToyModelConfig, build_model
from srpo.toy.tokenizer import save_tokenizer


@dataclass(frozen=True)
class WarmStartConfig:
    """Supervised warm start of the toy model."""

    steps: int = option(1000, "optimizer steps; the early-stopping knob (the shipped model uses the default).")
    seed: int = option(1, "seeds model init, the (domain, level) draw and the problem streams; 1 is the shipped "
                          "model's (chosen among candidate builds by the rule in docs/toy.md).")
    batch_size: int = option(64, "sequences per step.")
    micro_batch: int = option(16, "rows per forward/backward chunk (length-sorted; the step's gradient is "
                                  "unchanged).")
    lr: float = option(1e-3, "AdamW learning rate after warm-up (constant: no decay, see the module docstring).")
    warmup_steps: int = option(50, "linear warm-up from 0 to `lr`.")
    weight_decay: float = option(0.01, "AdamW decoupled weight decay.")
    grad_clip: float = option(1.0, "max global gradient norm.")
    math_levels: tuple[int, ...] = option((1, 2, 3, 4), "MATH difficulty levels in the mix, drawn uniformly.")
    code_levels: tuple[int, ...] = option((1, 2, 3), "CODE difficulty levels in the mix, drawn uniformly.")
    code_fraction: float = option(0.4, "probability that a sequence is a CODE problem.")
    terse_fraction: float = option(0.7, "probability that a sequence's target is the problem's terse response "
                                        "(`metadata['terse']`, the result in one think step) instead of the "
                                        "step-by-step reference; a seeded per-example choice.")
    checked_fraction: float = option(0.0, "probability that a MATH sequence's target is the problem's checked "
                                          "response (`metadata['checked']`: a terse draft, 'let me check', the "
                                          "step-by-step recomputation; the draft is wrong for half the problems), "
                                          "drawn from its own seeded stream before the terse/step-by-step choice; "
                                          "0 (the shipped model) leaves every target as it was. Code is never "
                                          "checked. The reflective variant (docs/toy.md) uses 0.1.")
    bf16: bool = option(True, "bf16 autocast for forward/backward (about 2x faster on CPUs with bf16 support).")
    threads: int = option(1, "torch intra-op threads; 1 for the reproducible build.")
    model: ToyModelConfig = option(factory=ToyModelConfig, doc="shape of the model.")

    def validate(self) -> None:
        for name in ("batch_size", "micro_batch", "threads"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}: must be >= 1, got {getattr(self, name)}")
        if self.steps < 0 or self.warmup_steps < 0:
            raise ConfigError(f"steps: steps and warmup_steps must be >= 0, got {self.steps}, {self.warmup_steps}")
        for name in ("code_fraction", "terse_fraction", "checked_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"{name}: must be in [0, 1], got {getattr(self, name)}")
        for dom, levels in (("math", self.math_levels), ("code", self.code_levels)):
            bad = [lv for lv in levels if not 1 <= lv <= tasks.MAX_LEVEL[dom]]
            if bad or not levels:
                raise ConfigError(f"{dom}_levels: need levels in 1..{tasks.MAX_LEVEL[dom]}, got {levels}")
        if self.lr <= 0:
            raise ConfigError(f"lr: must be > 0, got {self.lr}")
        self.model.validate()


def draw_batch(cfg: WarmStartConfig, step: int) -> list:
    """The `batch_size` training problems of one step; a pure function of (cfg, step)."""
    rng = random.Random(f"srpo.toy.build/{cfg.seed}/{step}")
    counts: dict[tuple[str, int], int] = {}
    for _ in range(cfg.batch_size):
        if rng.random() < cfg.code_fraction:
            key = ("code", rng.choice(cfg.code_levels))
        else:
            key = ("math", rng.choice(cfg.math_levels))
        counts[key] = counts.get(key, 0) + 1
    batch = []
    for (domain, level), n in sorted(counts.items()):
        batch += tasks.problems(domain, n, level, seed=cfg.seed * 1_000_003 + step)
    return batch


def pick_targets(cfg: WarmStartConfig, step: int, problems: list) -> list[str]:
    """The response each problem of step `step` trains on: for a MATH problem, the checked response with
    probability `checked_fraction`; otherwise terse with probability `terse_fraction`, else the step-by-step
    reference; a pure function of (cfg, step, problems).

    The checked choice has its own RNG stream and the terse draw is made for every problem either way, so
    with ``checked_fraction=0`` the targets are exactly those of the shipped build."""
    rng = random.Random(f"srpo.toy.build/{cfg.seed}/{step}/targets")
    check_rng = random.Random(f"srpo.toy.build/{cfg.seed}/{step}/checked") if cfg.checked_fraction > 0 else None
    out = []
    for p in problems:
        base = p.metadata["terse"] if rng.random() < cfg.terse_fraction else p.metadata["solution"]
        checked = check_rng is not None and check_rng.random() < cfg.checked_fraction
        out.append(p.metadata["checked"] if checked and "checked" in p.metadata else base)
    return out


def encode_batch(tokenizer, problems, targets: list[str] | None = None) -> dict:
    """Right-padded ``input_ids``/``attention_mask``/``labels`` [B, T]; labels -100 outside responses.

    `targets` are the responses to train on (default: each problem's step-by-step ``metadata["solution"]``).
    """
    import torch

    targets = targets if targets is not None else [p.metadata["solution"] for p in problems]
    rows = []
    for p, target in zip(problems, targets, strict=True):
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": p.prompt}], tokenize=False,
                                               add_generation_prompt=True)
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        r_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append((p_ids + r_ids, [-100] * len(p_ids) + r_ids))
    width = max(len(ids) for ids, _ in rows)
    pad = tokenizer.pad_token_id
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, (x, y) in enumerate(rows):
        ids[i, :len(x)] = torch.tensor(x)
        labels[i, :len(y)] = torch.tensor(y)
        mask[i, :len(x)] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def warm_start_chunks(batch: dict, size: int) -> list[dict]:
    """Split a batch into length-sorted chunks of `size` rows, each trimmed to its own longest row.

    Math rows are about half as long as code rows, so sorting before chunking removes most padding.
    """
    lengths = batch["attention_mask"].sum(dim=1)
    order = sorted(range(len(lengths)), key=lambda i: (int(lengths[i]), i))
    chunks = []
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        width = int(lengths[idx].max())
        chunks.append({k: v[idx, :width] for k, v in batch.items()})
    return chunks


def token_nll_sum(model, chunk: dict):
    """Sum over response tokens of -log p(token | prefix); logits [B, T, V] predict labels shifted by one."""
    import torch.nn.functional as F

    logits = model(input_ids=chunk["input_ids"], attention_mask=chunk["attention_mask"]).logits
    return F.cross_entropy(logits[:, :-1].float().flatten(0, 1), chunk["labels"][:, 1:].flatten(),
                           ignore_index=-100, reduction="sum")


def train_warm_start(cfg: WarmStartConfig, out_dir: str | Path,
          on_step: Callable[[int, float, object], None] | None = None) -> Path:
    """Run the warm start and write an HF model + tokenizer directory to `out_dir`; returns it.

    `on_step(step, loss, model)` is called after every optimizer step (for logging/checkpoints).
    """
    import torch
    from transformers import AutoTokenizer

    cfg.validate()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.use_deterministic_algorithms(True)
    save_tokenizer(out)
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = build_model(cfg.model, cfg.seed)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
    for step in range(cfg.steps):
        problems = draw_batch(cfg, step)
        batch = encode_batch(tokenizer, problems, pick_targets(cfg, step, problems))
        n_tokens = int((batch["labels"][:, 1:] != -100).sum())
        loss = 0.0
        for chunk in warm_start_chunks(batch, cfg.micro_batch):
            # Sum per chunk / tokens in the whole batch: the gradient of the batch's token-mean loss.
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                chunk_loss = token_nll_sum(model, chunk) / n_tokens
            chunk_loss.backward()
            loss += float(chunk_loss.detach())
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if on_step is not None:
            on_step(step + 1, loss, model)
    save_model(model, out, cfg)
    return out


def save_model(model, out: Path, cfg: WarmStartConfig) -> None:
    """Weights (fp32 safetensors), config, generation config and a build record with the weights' hash."""
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    digest = hashlib.sha256((out / "model.safetensors").read_bytes()).hexdigest()
    record = {"warm_start": asdict(cfg), "model_sha256": digest,
              "n_params": sum(p.numel() for p in model.parameters())}
    (out / "build_info.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
