"""What every engine loads from the config before it trains: the training and held-out pools."""

from __future__ import annotations

import hashlib

from srpo.config import TrainConfig
from srpo.core.configlib import ConfigError
from srpo.core.problem import Problem


def load_run_data(cfg: TrainConfig) -> tuple[list[Problem], list[Problem]]:
    """The training and held-out pools, every problem scorable (code rows from files and tables: their
    reference solutions, if any, pass their tests in the sandbox), with a table of what each source gave;
    refused when training is empty or the two overlap."""
    from srpo.data.pool import format_sources, load_pool as load_checked
    from srpo.data.references import ReferenceRunner

    data = cfg.data
    with ReferenceRunner(cfg.rewards, cfg.sandbox, cfg.curate.reference_template) as runner:
        options = {"mapping": data.column_mapping or None, "format": data.format,
                   "on_unusable": data.on_unusable, "note": print, "references": runner if data.check_references else None}
        train, train_counts = load_checked(data.train, split="train", **options)
        heldout, heldout_counts = load_checked(data.heldout, split="heldout", **options)
    if runner.checked:
        print(f"reference solutions: {runner.checked} run against their tests in {runner.seconds:.1f}s "
              "(data.check_references=false skips this)")
    print(format_sources(train_counts + heldout_counts))
    overlap = {p.uid for p in train} & {p.uid for p in heldout}
    if overlap:
        raise ConfigError(f"data.heldout: {len(overlap)} held-out problems also occur in data.train "
                          f"(e.g. uid {sorted(overlap)[0]})")
    return train, heldout


def data_fingerprint(train: list[Problem], heldout: list[Problem]) -> dict[str, dict]:
    """Per pool, its problem count and a hash of its sorted uids: what a resumed run must find again.

    >>> data_fingerprint([Problem.create("math", "1+1?", "2")], [])["heldout"]
    {'problems': 0, 'uids_sha256': 'e3b0c44298fc1c14'}
    """
    def pool(problems: list[Problem]) -> dict:
        uids = "\n".join(sorted(p.uid for p in problems))
        return {"problems": len(problems), "uids_sha256": hashlib.sha256(uids.encode()).hexdigest()[:16]}

    return {"train": pool(train), "heldout": pool(heldout)}
