"""The one config tree that drives every engine: its sections, presets, and loading with overrides."""

from srpo.config.tree import TrainConfig, load_config, preset_names, save_config

__all__ = ["TrainConfig", "load_config", "preset_names", "save_config"]
