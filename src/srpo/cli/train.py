"""``srpo train``, ``srpo demo``, ``srpo presets`` and ``srpo config``: runs from the one config tree."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any


def add_cli(subparsers: Any) -> None:
    """Add the commands that load a training config."""
    train = subparsers.add_parser("train", help="train a policy from a config", epilog=knobs_epilog(),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    train.add_argument("overrides", nargs="*", help="key=value overrides of any config field, e.g. "
                                                    "run.total_steps=50 model.path=/models/Qwen2.5-1.5B")
    train.add_argument("--no-report", dest="report", action="store_false",
                       help="at the end, skip the HTML report in RUN/report/ (`srpo report RUN` makes it later)")
    train.set_defaults(func=run_train)
    demo = subparsers.add_parser("demo", help="SRPO on the embedded tiny model, offline, on CPU")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--out", default=None, help="run directory (default runs/demo-seed<S>)")
    demo.add_argument("overrides", nargs="*", help="key=value overrides of the demo config")
    demo.set_defaults(func=demo_command)
    presets = subparsers.add_parser("presets", help="list config presets")
    presets.set_defaults(func=list_presets)
    show = subparsers.add_parser("config", help="print a resolved config with every field's doc",
                                 description="Print the config a preset or YAML file resolves to, after "
                                             "overrides, as YAML that `srpo train` reads back; each field "
                                             "carries its whole doc (choices, caveats) as comments. The config "
                                             "is checked as `srpo train` checks it, the engine's refusals included.")
    show.add_argument("config", help="preset name (see `srpo presets`) or YAML file")
    show.add_argument("overrides", nargs="*", help="key=value overrides, e.g. rollout.group_size=16")
    show.add_argument("--diff", action="store_true", help="only the fields that differ from the defaults")
    show.add_argument("--brief", action="store_true", help="each field's doc cut to its first sentence")
    show.set_defaults(func=show_config)


def knobs_epilog() -> str:
    """Where `srpo train`'s knobs are: the config tree's sections, each with its doc."""
    import dataclasses

    from srpo.config import TrainConfig

    sections = [f"  {f.name:<12} {f.metadata['doc']}" for f in dataclasses.fields(TrainConfig)
                if dataclasses.is_dataclass(f.default_factory) if f.default_factory is not dataclasses.MISSING]
    return ("Every setting is a field of one config tree, set in a YAML file or as section.field=value on the "
            "command line.\n`srpo config PRESET` prints every field with its doc and default, `srpo config PRESET "
            "--diff` what a preset changes,\n`srpo presets` the presets. The sections:\n" + "\n".join(sections))


def check_engine_options(cfg) -> None:
    """The refusals at load of the engine `cfg.engine` names: what `srpo train` would refuse before training."""
    if cfg.engine == "trl":
        from srpo.engines.trl.setup import check_config

        check_config(cfg, processes=int(os.environ.get("WORLD_SIZE", "1")))
    elif cfg.engine == "verl":
        from srpo.engines.verl.setup import check_config

        check_config(cfg)
    else:
        from srpo.engines.native.setup import check_config

        check_config(cfg)


def run_train(args: argparse.Namespace) -> int:
    from srpo.config import load_config
    from srpo.engines.native.trainer import Trainer

    cfg = load_config(args.config, args.overrides)
    if cfg.engine == "verl":
        from srpo.core.configlib import ConfigError

        raise ConfigError("engine: verl runs under verl's own launcher; `srpo verl-recipe CONFIG ...` exports the "
                          "data and writes the command (docs/verl.md)")
    if cfg.engine == "trl":
        return run_trl(cfg, args.report)
    from srpo.engines.checkpoint_layout import latest_checkpoint

    Trainer(cfg).train()
    from srpo.cli.finish import finish_run

    finish_run(Path(cfg.run.output_dir), latest_checkpoint(Path(cfg.run.output_dir)), args.report)
    return 0


def _ignore_stop_signals() -> None:
    """After a stop with a complete checkpoint only teardown is left: a further stop signal (torchrun relays
    one to every rank still running when the first rank exits) must not turn a clean exit into a kill. Set
    before the shutdown barrier, so no rank exits before every rank ignores them; SIGKILL still ends it."""
    import signal

    from srpo.engines.stop import STOP_SIGNALS

    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)


def run_trl(cfg, report: bool = True) -> int:
    """``engine=trl``: the same config on TRL's GRPOTrainer; under torchrun every process runs this."""
    from srpo.core.configlib import ConfigError
    from srpo.core.extras import install_hint

    try:
        from srpo.engines.trl import trainer as trl_trainer
    except ImportError as err:
        raise ConfigError(f"engine: trl needs the optional extra ({install_hint('trl')}): {err}") from None
    from srpo.core.errors import Interrupted

    try:
        result = trl_trainer.train(cfg)
    except Interrupted:  # every rank stopped after the same step, its checkpoint complete
        _ignore_stop_signals()  # torchrun signals the ranks still tearing down once one rank has exited
        trl_trainer.shutdown()
        raise
    except BaseException:  # maybe on this rank alone (a repeated signal): no barrier that others never reach
        trl_trainer.shutdown(barrier=False)
        raise
    trl_trainer.shutdown()
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trl engine: step {result['step']}, state {result['state_hash']}, "
              f"{result['state_checks']} cross-rank state checks")
        from srpo.cli.finish import finish_run

        finish_run(Path(cfg.run.output_dir), result["checkpoint"], report)
    return 0


def demo_command(args: argparse.Namespace) -> int:
    from srpo.cli.demo import run_demo as demo

    return demo(seed=args.seed, overrides=list(args.overrides), out=args.out)


def list_presets(args: argparse.Namespace) -> int:
    from srpo.config import preset_names

    print("\n".join(preset_names()))
    return 0


def show_config(args: argparse.Namespace) -> int:
    from srpo.config import TrainConfig, load_config
    from srpo.core.configlib import render

    cfg = load_config(args.config, args.overrides)
    print(render(cfg, TrainConfig() if args.diff else None, brief=args.brief), end="", flush=True)
    check_engine_options(cfg)  # after printing: a preset that still needs e.g. model.path can be read
    return 0
