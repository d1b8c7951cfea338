"""model.lora on the TRL engine: mapped onto GRPOTrainer's peft_config; a short run trains and saves adapters."""

import pytest

pytest.importorskip("trl")
pytest.importorskip("peft")

from safetensors.torch import load_file  # noqa: E402

from srpo.config import load_config  # noqa: E402
from srpo.engines.trl.setup import peft_config  # noqa: E402


def test_model_lora_becomes_grpo_trainers_peft_config():
    assert peft_config(load_config("grpo", ["engine=trl"])) is None
    c = load_config("grpo", ["engine=trl", "model.lora.enabled=true", "model.lora.r=8", "model.lora.alpha=4",
                             "model.lora.dropout=0.05", "model.lora.target_modules=[q_proj, v_proj]"])
    lora = peft_config(c)
    assert (lora.r, lora.lora_alpha, lora.lora_dropout) == (8, 4.0, 0.05)
    assert set(lora.target_modules) == {"q_proj", "v_proj"} and lora.task_type == "CAUSAL_LM"


@pytest.mark.slow
def test_trl_run_with_lora_trains_and_checkpoints_adapters_only(tmp_path):
    from srpo.engines.trl.trainer import train

    cfg = load_config("grpo", [
        "engine=trl", "model.lora.enabled=true", "model.lora.r=4", "algorithm.kl_coef=0.1",
        f"run.output_dir={tmp_path / 'run'}", "run.total_steps=2", "run.save_every=2", "run.progress=false",
        'data.train=["toy:math?n=4&levels=1-1&seed=3"]', "data.heldout=[]",
        "rollout.prompts_per_step=2", "rollout.group_size=2", "rollout.max_new_tokens=16",
        "algorithm.micro_batch_size=4", "optim.lr=1e-2", "sandbox.workers=1"])
    result = train(cfg)
    assert result["step"] == 2
    ckpt = tmp_path / "run" / "checkpoint-2"
    assert (ckpt / "adapter_config.json").is_file() and not (ckpt / "model.safetensors").exists()
    adapters = load_file(ckpt / "adapter_model.safetensors")
    assert adapters and all("lora_" in k for k in adapters)
    assert any(float(v.abs().sum()) > 0 for k, v in adapters.items() if "lora_B" in k)  # B left zero: untrained


def test_lora_adapters_as_model_path_are_refused_with_the_way_out(tmp_path, tiny_model_dir):
    from srpo.config.model import LoraConfig, ModelConfig
    from srpo.core.configlib import ConfigError
    from srpo.engines.hf_model import load_model
    from srpo.engines.lora import wrap
    from srpo.engines.trl.trainer import train

    base = load_model(ModelConfig(path=str(tiny_model_dir)))
    wrap(base, LoraConfig(enabled=True, r=2), base=str(tiny_model_dir)).save_pretrained(tmp_path / "adapters")
    cfg = load_config("grpo", ["engine=trl", f"model.path={tmp_path / 'adapters'}",
                               f"run.output_dir={tmp_path / 'r'}"])
    with pytest.raises(ConfigError, match=r"^model\.path: .*adapters holds LoRA adapters; .*srpo export --merge"):
        train(cfg)
