"""The parts of `bench/gpu_check.sh`: each one measures one thing and writes its own JSON fragment.

    python bench/gpu_check.py PART --out FRAGMENT.json [--model 0.5b|1.5b] [--cpu-smoke]
    python bench/gpu_check.py merge --dir OUTDIR [--cpu-smoke]      # fragments -> gpu_check.json / .md

Parts (the shell script gives each its own time limit; a part rewrites its fragment after every figure,
so one killed at its limit keeps what it measured before):

- ``rollout --model M``: response tokens/s on one batch (64 prompts x 8 samples x 512 new tokens, prompts of
  128 tokens, EOS unreachable) from a random bf16 Llama of M's shape (`gpu_throughput.SHAPES`) with the real
  151,936-token vocabulary: srpo's ``kv_cache`` eager and compiled (static cache, CUDA graphs), srpo's ``hf``
  engine, and transformers' ``generate`` with the dynamic and with the static cache. Compiled paths get a
  warm-up of the same batch size and cache length (so the timed call replays graphs, not compiles them).
  srpo's ``hf`` engine keeps every step's float32 logits (``output_logits``): at this vocabulary the whole
  batch would need rows x 512 x 151,936 x 4 bytes several times, so it runs the prompts in chunks that fit
  (recorded as ``chunks``).
- ``update --model M``: one optimizer step of `Actor.update` over that batch's shape (synthetic responses of
  512 tokens, as every rollout above runs to the cap), fused head on/off x prompt sharing on/off, against a
  plain HF forward+backward+AdamW loop on the same tokens; MFU as `gpu_throughput` counts it.
- ``lora``: one LoRA `Actor.update` on a Qwen2.5-7B-shaped model (random bf16 weights made on the GPU),
  peak GPU memory and step time.
- ``trl``: two steps of ``srpo train grpo engine=trl`` on a random 0.5B-shaped bf16 model saved to /tmp.
- ``cuda_tests``: the tests that skip without CUDA (found by grep), with pytest's summary line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gpu_throughput as gt  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
QWEN_VOCAB = 151_936
SHAPE_7B = dict(layers=28, hidden=3584, heads=28, kv_heads=4, intermediate=18944, vocab=152_064, tied=False,
                label="7.6B (Qwen2.5-7B shape)")
SMOKE_7B = dict(layers=2, hidden=128, heads=4, kv_heads=2, intermediate=256, vocab=512, tied=False,
                label="tiny (7B stand-in, smoke)")
SMOKE_MODELS = {"0.5b": "tiny-a", "1.5b": "tiny-b"}
HF_ENGINE_MAX_S = 20  # srpo's hf engine runs chunks until this many seconds, then reports the rate so far
GOALS = {"rollout_tok_s": {"0.5b": 50_000}, "update_mfu": {"0.5b": 0.25, "1.5b": 0.35}}
# The grep that finds CUDA-only tests: a skip (skipif / skip / importorskip-style guard) that names cuda.
CUDA_SKIP = r"(skipif|skip)\([^)]*cuda|requires_cuda|mark\.cuda\b"
PARTS = ["install", "rollout_0.5b", "rollout_1.5b", "update_0.5b", "update_1.5b", "lora_7b", "trl_0.5b",
         "cuda_tests"]


# ------------------------------------------------------------------------------------------- plumbing
class Fragment:
    """A part's JSON, rewritten (atomically) after every figure."""

    def __init__(self, path: str, part: str):
        self.path, self.data = Path(path), {"part": part, "status": "running", "results": {}}
        self.save()

    def put(self, key: str, value) -> None:
        self.data["results"][key] = value
        self.save()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, default=str))
        tmp.replace(self.path)


def device_info(device: torch.device) -> dict:
    if device.type == "cuda":
        return {"device": torch.cuda.get_device_name(device), "torch": torch.__version__}
    return {"device": f"CPU, {torch.get_num_threads()} threads", "torch": torch.__version__}


def setup_for(smoke: bool, device: torch.device) -> gt.Setup:
    if smoke:
        return gt.Setup(device, prompts=4, samples=2, prompt_len=8, new_tokens=12, micro_rows=4, micro_tokens=None,
                        autocast=True)
    return gt.Setup(device, prompts=64, samples=8, prompt_len=128, new_tokens=512, micro_rows=32,
                    micro_tokens=None, autocast=True)


def toy_tokenizer():
    from transformers import AutoTokenizer

    from srpo.toy.weights import default_model_dir

    return AutoTokenizer.from_pretrained(default_model_dir(), local_files_only=True)


def on_device(fn, device: torch.device, *args, dtype: torch.dtype | None = None):
    """fn(*args) with parameters created (and randomly initialised) directly on `device`, in `dtype`."""
    old = torch.get_default_dtype()
    if dtype is not None:
        torch.set_default_dtype(dtype)
    try:
        with torch.device(device):
            return fn(*args)
    finally:
        torch.set_default_dtype(old)


def mem_reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def mem_peak(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def short_error(err: BaseException) -> str:
    return f"failed: {type(err).__name__}: {str(err).strip().splitlines()[0][:160] if str(err).strip() else ''}"


# ------------------------------------------------------------------------------------------- rollout
def _timed(fn, device) -> float:
    gt.sync(device)
    start = time.perf_counter()
    fn()
    gt.sync(device)
    return time.perf_counter() - start


def _warm_prompts(setup: gt.Setup, vocab: int, cache_len: int, steps: int) -> list[list[int]]:
    """Prompts whose width + `steps` equals `cache_len`: a warm-up with the timed call's batch and cache shape."""
    g = torch.Generator().manual_seed(7)
    return torch.randint(3, vocab, (setup.prompts, cache_len - steps), generator=g).tolist()


def rollout_kv_cache(model, tokenizer, setup, prompts, vocab, compiled: bool) -> dict:
    from srpo.core.generation import SamplingParams
    from srpo.engines.native.rollout.decode import static_cache_length
    from srpo.engines.native.rollout.hf import KVCacheEngine

    # On CPU (the smoke) the compiled path runs through dynamo's eager backend: inductor's CPU build is slow.
    options = {"backend": "eager", "mode": None} if compiled and setup.device.type == "cpu" else None
    engine = KVCacheEngine(model, tokenizer, seed=0, compile=compiled, compile_options=options)
    warm_steps = 4
    if compiled:
        length = static_cache_length(setup.prompt_len, setup.new_tokens, KVCacheEngine.CACHE_LEN_BUCKET)
        warm = _warm_prompts(setup, vocab, length, warm_steps)
    else:
        warm = prompts[:2]
    warm_s = _timed(lambda: engine.generate(warm, SamplingParams(setup.samples, 1.0, 1.0, warm_steps)), setup.device)
    out = {}
    seconds = _timed(lambda: out.setdefault("b", engine.generate(prompts, SamplingParams(setup.samples, 1.0, 1.0,
                                                                                         setup.new_tokens))),
                     setup.device)
    tokens = int(out["b"].response_mask_bt.sum())
    return {"tok_s": tokens / seconds, "seconds": seconds, "tokens": tokens, "warmup_s": warm_s}


def rollout_hf_engine(model, tokenizer, setup, prompts) -> dict:
    """srpo's ``hf`` engine, in prompt chunks whose kept logits fit in the free memory."""
    from srpo.core.generation import SamplingParams
    from srpo.engines.native.rollout.hf import HFEngine

    engine = HFEngine(model, tokenizer, seed=0)
    engine.generate(prompts[:1], SamplingParams(2, 1.0, 1.0, 4))
    per_row = setup.new_tokens * model.config.vocab_size * 4 * 4  # kept logits, stack, / T, log_softmax
    if setup.device.type == "cuda":
        torch.cuda.empty_cache()
        free = torch.cuda.mem_get_info(setup.device)[0]
        rows_fit = max(1, int(0.6 * free / per_row))
    else:
        rows_fit = setup.prompts * setup.samples
    chunk = max(1, min(setup.prompts, rows_fit // setup.samples))
    tokens, seconds, done = 0, 0.0, 0
    for start in range(0, len(prompts), chunk):
        if seconds > HF_ENGINE_MAX_S:  # the rate is per chunk: the rest would only cost the part's budget
            break
        done += 1
        out = {}
        seconds += _timed(lambda: out.setdefault("b", engine.generate(
            prompts[start:start + chunk], SamplingParams(setup.samples, 1.0, 1.0, setup.new_tokens))), setup.device)
        tokens += int(out["b"].response_mask_bt.sum())
        del out
    return {"tok_s": tokens / seconds, "seconds": seconds, "tokens": tokens,
            "chunks": -(-len(prompts) // chunk), "chunks_run": done, "prompts_per_chunk": chunk}


def rollout_generate(model, setup, prompts, vocab, static: bool) -> dict:
    """transformers' own ``generate`` (sampling, top_k=0, no logits kept) with the dynamic or static cache."""
    from transformers import GenerationConfig

    def config(steps):
        kw = {"cache_implementation": "static"} if static else {}
        return GenerationConfig(do_sample=True, temperature=1.0, top_p=1.0, top_k=0, max_new_tokens=steps,
                                min_new_tokens=steps, pad_token_id=0, eos_token_id=[vocab], **kw)

    def run(rows, steps):
        ids = torch.tensor(rows, device=setup.device).repeat_interleave(setup.samples, 0)
        with torch.no_grad():
            return model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), generation_config=config(steps))

    warm_steps = 4
    warm = (_warm_prompts(setup, vocab, setup.prompt_len + setup.new_tokens, warm_steps) if static
            else prompts[:2])
    warm_s = _timed(lambda: run(warm, warm_steps), setup.device)
    out = {}
    seconds = _timed(lambda: out.setdefault("s", run(prompts, setup.new_tokens)), setup.device)
    tokens = int(out["s"].shape[0] * (out["s"].shape[1] - setup.prompt_len))
    return {"tok_s": tokens / seconds, "seconds": seconds, "tokens": tokens, "warmup_s": warm_s}


def part_rollout(args, frag: Fragment) -> None:
    device = torch.device("cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda")
    setup = setup_for(args.cpu_smoke, device)
    shape_name = SMOKE_MODELS[args.model] if args.cpu_smoke else args.model
    vocab = 512 if args.cpu_smoke else QWEN_VOCAB
    frag.data.update(device_info(device), model=gt.SHAPES[shape_name]["label"], vocab=vocab,
                     batch=f"{setup.prompts} prompts x {setup.samples} samples x {setup.new_tokens} new tokens, "
                           f"prompts of {setup.prompt_len}")
    tokenizer = toy_tokenizer()
    model = on_device(gt.build_model, device, gt.SHAPES[shape_name], vocab, setup.prompt_len + setup.new_tokens + 8,
                      dtype=torch.bfloat16).eval()
    gt.make_unstoppable(model)
    prompts = gt.random_prompts(setup, vocab, seed=0)
    runs = [("kv_cache eager", lambda: rollout_kv_cache(model, tokenizer, setup, prompts, vocab, compiled=False)),
            ("generate dynamic cache", lambda: rollout_generate(model, setup, prompts, vocab, static=False)),
            ("kv_cache compiled static", lambda: rollout_kv_cache(model, tokenizer, setup, prompts, vocab,
                                                                  compiled=True)),
            ("generate static cache", lambda: rollout_generate(model, setup, prompts, vocab, static=True)),
            ("hf engine", lambda: rollout_hf_engine(model, tokenizer, setup, prompts))]
    for name, fn in runs:
        print(f"[rollout {args.model}] {name} ...", flush=True)
        try:
            frag.put(name, fn())
        except Exception as err:  # one engine failing is a row of the table, not the part's end
            traceback.print_exc()
            frag.put(name, short_error(err))
        finally:
            mem_reset(device)
        print(f"[rollout {args.model}] {name}: {frag.data['results'][name]}", flush=True)


# ------------------------------------------------------------------------------------------- update
def synthetic_experience(setup: gt.Setup, vocab: int):
    """An Experience of the rollout batch's shape: every response runs to the cap (as with EOS unreachable)."""
    from srpo.engines.native.rollout.base import RolloutBatch

    g = torch.Generator().manual_seed(3)
    rows = setup.prompts * setup.samples
    prompts = torch.randint(3, vocab, (setup.prompts, setup.prompt_len), generator=g)
    index = torch.arange(setup.prompts).repeat_interleave(setup.samples)
    batch = RolloutBatch(prompts[index], torch.ones(rows, setup.prompt_len, dtype=torch.long),
                         torch.randint(3, vocab, (rows, setup.new_tokens), generator=g),
                         torch.ones(rows, setup.new_tokens, dtype=torch.long),
                         -torch.rand(rows, setup.new_tokens, generator=g) * 5, index,
                         torch.ones(rows, dtype=torch.bool), [""] * rows)
    return gt.experience_from(batch, setup)


def time_actor_update(model, exp, setup: gt.Setup, share: bool, fused: bool, **algo_kw) -> float:
    from srpo.config.algorithm import AlgorithmConfig, OptimConfig
    from srpo.engines.native.actor import Actor

    algo = AlgorithmConfig(micro_batch_size=setup.micro_rows, micro_batch_tokens=setup.micro_tokens,
                           share_prompts=share, fused_head=fused, **algo_kw)
    actor = Actor(model, algo, OptimConfig(lr=1e-7), temperature=1.0, norm_len=setup.new_tokens,
                  total_optimizer_steps=10, autocast=setup.autocast)
    actor.update(exp.select(list(range(min(len(exp), setup.micro_rows)))))  # warm-up
    seconds = _timed(lambda: actor.update(exp), setup.device)
    del actor
    return seconds


def part_update(args, frag: Fragment) -> None:
    device = torch.device("cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda")
    setup = setup_for(args.cpu_smoke, device)
    shape_name = SMOKE_MODELS[args.model] if args.cpu_smoke else args.model
    vocab = 512 if args.cpu_smoke else QWEN_VOCAB
    model = on_device(gt.build_model, device, gt.SHAPES[shape_name], vocab, setup.prompt_len + setup.new_tokens + 8)
    exp = synthetic_experience(setup, vocab)
    lengths = (exp.prompt_lengths_b + exp.response_lengths_b).tolist()
    flops = gt.update_flops(model, lengths)
    peak, peak_line = gt.peak_tflops(device, args.peak_tflops)
    frag.data.update(device_info(device), model=gt.SHAPES[shape_name]["label"], vocab=vocab, tokens=int(sum(lengths)),
                     flops=flops, peak_tflops=peak, peak=peak_line, matmul_params=gt.matmul_params(model),
                     setup=f"one optimizer step over {len(exp)} rows of {setup.prompt_len}+{setup.new_tokens} tokens, "
                           f"micro-batches of {setup.micro_rows} rows, bf16 autocast over fp32 params, AdamW")
    runs = [("srpo (fused head, shared prompts)", lambda: time_actor_update(model, exp, setup, True, True)),
            ("plain HF fwd+bwd+AdamW", lambda: gt.time_plain_update(model, exp, setup)),
            ("srpo, fused head off", lambda: time_actor_update(model, exp, setup, True, False)),
            ("srpo, prompt sharing off", lambda: time_actor_update(model, exp, setup, False, True)),
            ("srpo, both off", lambda: time_actor_update(model, exp, setup, False, False))]
    for name, fn in runs:
        print(f"[update {args.model}] {name} ...", flush=True)
        try:
            seconds = fn()
            row = {"seconds": seconds, "tflop_s": flops / seconds / 1e12}
            if peak:
                row["mfu"] = flops / seconds / 1e12 / peak
            frag.put(name, row)
        except Exception as err:
            traceback.print_exc()
            frag.put(name, short_error(err))
        finally:
            model.zero_grad(set_to_none=True)
            mem_reset(device)
        print(f"[update {args.model}] {name}: {frag.data['results'][name]}", flush=True)


# ------------------------------------------------------------------------------------------- LoRA 7B
def _build_llama(shape: dict, max_len: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=shape["vocab"], hidden_size=shape["hidden"], intermediate_size=shape["intermediate"],
                      num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
                      num_key_value_heads=shape["kv_heads"], max_position_embeddings=max_len,
                      tie_word_embeddings=shape["tied"], pad_token_id=0, eos_token_id=1)
    return LlamaForCausalLM(cfg)


def part_lora(args, frag: Fragment) -> None:
    from srpo.config.model import LoraConfig
    from srpo.engines.lora import parameter_counts, wrap

    device = torch.device("cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda")
    shape = SMOKE_7B if args.cpu_smoke else SHAPE_7B
    setup = (gt.Setup(device, 2, 2, 8, 12, 2, None, True) if args.cpu_smoke
             else gt.Setup(device, 8, 8, 128, 512, 8, None, True))
    lora = LoraConfig(enabled=True)
    frag.data.update(device_info(device), model=shape["label"],
                     setup=f"one Actor.update, {setup.prompts * setup.samples} rows of {setup.prompt_len}+"
                           f"{setup.new_tokens} tokens, micro-batches of {setup.micro_rows} rows; bf16 base, "
                           f"LoRA r={lora.r} alpha={lora.alpha:g} on {','.join(lora.target_modules)}, "
                           f"bf16 autocast, no activation checkpointing")
    mem_reset(device)
    t0 = time.perf_counter()
    base = on_device(_build_llama, device, shape, setup.prompt_len + setup.new_tokens + 8, dtype=torch.bfloat16)
    gt.sync(device)
    frag.put("build_s", time.perf_counter() - t0)
    model = wrap(base, lora, base="random")
    frag.put("params", parameter_counts(model))
    frag.put("memory_after_build_bytes", mem_peak(device))
    exp = synthetic_experience(setup, shape["vocab"])
    mem_reset(device)
    seconds = time_actor_update(model, exp, setup, share=True, fused=True)
    frag.put("step_s", seconds)
    frag.put("peak_memory_bytes", mem_peak(device))


# ------------------------------------------------------------------------------------------- TRL
def part_trl(args, frag: Fragment) -> None:
    device = "cpu" if args.cpu_smoke or not torch.cuda.is_available() else "cuda"
    shape = gt.SHAPES["tiny-a" if args.cpu_smoke else "0.5b"]
    vocab = 512 if args.cpu_smoke else QWEN_VOCAB
    model_dir = Path(tempfile.mkdtemp(prefix="gpu_check_trl_model_", dir="/tmp"))
    model = gt.build_model(shape, vocab, 4096).to(torch.bfloat16)
    model.save_pretrained(model_dir)
    toy_tokenizer().save_pretrained(model_dir)
    del model
    out = Path(tempfile.mkdtemp(prefix="gpu_check_trl_run_", dir="/tmp")) / "run"
    new = 16 if args.cpu_smoke else 128
    overrides = [
        "engine=trl", f"model.path={model_dir}", "model.dtype=bfloat16", f"model.device={device}",
        f"run.output_dir={out}", "run.total_steps=2", "run.save_every=2", "run.progress=false", "run.eval_every=0",
        'data.train=["toy:math?n=32&levels=1-2&seed=3"]', "data.heldout=[]", "curriculum.preset=math_only",
        "rollout.prompts_per_step=2" if args.cpu_smoke else "rollout.prompts_per_step=8", "rollout.group_size=4",
        f"rollout.max_new_tokens={new}", "algorithm.micro_batch_size=4" if args.cpu_smoke
        else "algorithm.micro_batch_size=16", "sandbox.workers=1"]
    frag.data.update(model=shape["label"], vocab=vocab, command="srpo train grpo " + " ".join(overrides))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "srpo", "train", "grpo", *overrides], capture_output=True,
                          text=True, env=env, timeout=args.inner_timeout)
    frag.put("seconds", time.perf_counter() - t0)
    frag.put("returncode", proc.returncode)
    metrics = out / "metrics.jsonl"
    steps = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()] if metrics.exists() else []
    frag.put("steps_logged", len(steps))
    if steps:
        keep = ("step", "train/loss", "reward/mean", "time/step", "actor/entropy")
        frag.put("last_step", {k: v for k, v in steps[-1].items() if k in keep or k.startswith("time/")})
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"srpo train exited with {proc.returncode}")


# ------------------------------------------------------------------------------------------- CUDA-only tests
def cuda_only_tests() -> list[str]:
    pattern = re.compile(CUDA_SKIP)
    return sorted(str(p.relative_to(REPO)) for p in (REPO / "tests").rglob("test_*.py")
                  if pattern.search(p.read_text(errors="replace")))


def part_cuda_tests(args, frag: Fragment) -> None:
    files = cuda_only_tests()
    frag.data.update(grep=CUDA_SKIP, files=files)
    if not files:
        frag.put("summary", "no CUDA-only tests found (no skip naming cuda in tests/)")
        return
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
    if args.cpu_smoke:
        cmd.append("--collect-only")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=args.inner_timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    frag.put("summary", lines[-1] if lines else proc.stderr.strip()[-300:])
    frag.put("returncode", proc.returncode)
    if proc.returncode not in (0, 5):
        sys.stderr.write(proc.stdout[-3000:])
        raise SystemExit(f"pytest exited with {proc.returncode}")


# ------------------------------------------------------------------------------------------- merge
def _tail(path: Path, n: int = 1500) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def merge(out_dir: Path, smoke: bool) -> dict:
    parts, device = {}, None
    for name in PARTS:
        frag, rc_file = out_dir / f"{name}.json", out_dir / f"{name}.rc"
        data = json.loads(frag.read_text()) if frag.exists() else {"part": name, "results": {}}
        rc = int(rc_file.read_text().strip()) if rc_file.exists() else None
        budget = out_dir / f"{name}.budget"
        if budget.exists():
            data["budget_s"] = int(budget.read_text().strip())
        if rc is None:
            data["status"] = "not run"
        elif rc == 0:
            data["status"] = "ok"
        else:
            data["status"] = "timed out" if rc in (124, 137) else f"failed (exit {rc})"
            data["stderr_tail"] = _tail(out_dir / f"{name}.err")
        seconds = out_dir / f"{name}.seconds"
        if seconds.exists():
            data["wall_s"] = int(seconds.read_text().strip())
        device = device or data.get("device")
        parts[name] = data
    report = {"device": device or "unknown", "cpu_smoke": smoke, "goals": GOALS, "parts": parts}
    (out_dir / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))
    (out_dir / "gpu_check.md").write_text(markdown(report))
    return report


def _fmt(v, unit: str = "") -> str:
    if isinstance(v, dict) and "tok_s" in v:
        extra = (f" ({v.get('chunks_run', v['chunks'])} of {v['chunks']} chunks of {v['prompts_per_chunk']} prompts)"
                 if "chunks" in v else "")
        return f"{v['tok_s']:,.0f} tok/s{extra}"
    if isinstance(v, dict) and "seconds" in v:
        mfu = f", MFU {100 * v['mfu']:.1f}%" if "mfu" in v else ""
        return f"{v['seconds']:.2f} s, {v['tflop_s']:.2f} TFLOP/s{mfu}"
    return str(v)


def markdown(report: dict) -> str:
    p = report["parts"]
    lines = [f"# gpu_check{' (--cpu-smoke: tiny shapes on CPU, figures mean nothing)' if report['cpu_smoke'] else ''}",
             "", f"Card: **{report['device']}**", "",
             "| part | status | budget / wall s | measured | goal |", "| --- | --- | --- | --- | --- |"]

    def row(name: str, measured: str, goal: str = "") -> None:
        d = p[name]
        timing = f"{d.get('budget_s', '-')} / {d.get('wall_s', '-')}"
        lines.append(f"| {name} | {d['status']} | {timing} | {measured} | {goal} |")

    row("install", "; ".join(f"{k}: {v}" for k, v in p["install"].get("results", {}).items()) or "-")
    for m in ("0.5b", "1.5b"):
        d = p[f"rollout_{m}"]
        goal = GOALS["rollout_tok_s"].get(m)
        cells = "<br>".join(f"{k}: {_fmt(v)}" for k, v in d["results"].items()) or "-"
        head = f"{d.get('model', '')}, vocab {d.get('vocab', '')}, {d.get('batch', '')}<br>" if d.get("model") else ""
        row(f"rollout_{m}", head + cells, f"≥ {goal:,} tok/s" if goal else "")
    for m in ("0.5b", "1.5b"):
        d = p[f"update_{m}"]
        cells = "<br>".join(f"{k}: {_fmt(v)}" for k, v in d["results"].items()) or "-"
        head = (f"{d.get('model', '')}, {d.get('tokens', 0):,} tokens, {d.get('flops', 0) / 1e12:.2f} TFLOP; "
                f"peak {d.get('peak', '')}<br>") if d.get("model") else ""
        row(f"update_{m}", head + cells, f"MFU ≥ {100 * GOALS['update_mfu'][m]:.0f}%")
    d = p["lora_7b"]["results"]
    peak = d.get("peak_memory_bytes")
    row("lora_7b", (f"{p['lora_7b'].get('model', '')}: step {d['step_s']:.2f} s, peak GPU memory "
                    + (f"{peak / 2**30:.1f} GiB" if peak else "n/a (CPU)")) if "step_s" in d else "-")
    d = p["trl_0.5b"]["results"]
    row("trl_0.5b", (f"{d.get('steps_logged', 0)} steps logged in {d['seconds']:.1f} s (exit {d.get('returncode')})"
                     if "seconds" in d else "-"))
    d = p["cuda_tests"]
    row("cuda_tests", f"{len(d.get('files', []))} files: {d['results'].get('summary', '-')}")
    failed = [n for n in PARTS if p[n]["status"] not in ("ok",)]
    if failed:
        lines += ["", "Parts not ok (see gpu_check.json for each one's stderr tail): " + ", ".join(failed)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=["rollout", "update", "lora", "trl", "cuda_tests", "merge"])
    parser.add_argument("--out", help="the part's JSON fragment")
    parser.add_argument("--dir", help="merge: the folder of fragments")
    parser.add_argument("--model", choices=["0.5b", "1.5b"], default="0.5b")
    parser.add_argument("--cpu-smoke", action="store_true")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--inner-timeout", type=float, default=600, help="limit of a part's child process (s)")
    args = parser.parse_args()
    if args.part == "merge":
        merge(Path(args.dir), args.cpu_smoke)
        return
    if args.cpu_smoke:
        torch.set_num_threads(1)
    part = {"rollout": part_rollout, "update": part_update, "lora": part_lora, "trl": part_trl,
            "cuda_tests": part_cuda_tests}[args.part]
    frag = Fragment(args.out, args.part)
    part(args, frag)
    frag.data["status"] = "ok"
    frag.save()


if __name__ == "__main__":
    main()
