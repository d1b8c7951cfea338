"""`SrpoDataset`: verl's ``data.custom_cls`` that serves srpo's prompt stream (imports verl).

verl builds it twice, from ``data.train_files`` and ``data.val_files``. For the validation files it is verl's
own `RLHFDataset`. For the training files it reads the same parquet rows, but index i is the i-th prompt of
srpo's stream (`SrpoStream`: the domain mixture with the curriculum's weights, history resampling), so
verl's tokenisation and chat rendering of a row stay verl's. Its state (`state_dict` / `load_state_dict`,
torchdata's ``Stateful`` protocol) is the stream's, and verl's StatefulDataLoader saves it in each
checkpoint's ``data.pt`` next to the loader's position: resuming restores both at once.

It refuses a loader that would break the stream: ``data.shuffle`` (indices out of order) and
``data.dataloader_num_workers > 0`` (worker processes would draw from copies the trainer hook never feeds).
"""

from __future__ import annotations

import logging
from pathlib import Path

from verl.utils.dataset.rl_dataset import RLHFDataset

from srpo.engines.verl.stream import SrpoStream

log = logging.getLogger(__name__)
STATE_KEY = "srpo_stream"


class SrpoDataset(RLHFDataset):
    """verl's RLHFDataset whose training indices follow srpo's stream (see the module docstring)."""

    def __init__(self, data_files, tokenizer, config, processor=None, max_samples: int = -1):
        super().__init__(data_files, tokenizer, config, processor, max_samples)
        self.stream: SrpoStream | None = None
        if _paths(self.original_data_files) != _paths(config.get("train_files") or []):
            return  # the validation set: verl's dataset as it is
        self.srpo_cfg = _load_srpo_config(config)
        self._check_loader(config)
        self.row_of_uid = self._index_rows()
        self.stream = build_stream(self.srpo_cfg, [self._problem(row) for row in self.row_of_uid.values()])

    def _check_loader(self, config) -> None:
        if config.get("shuffle", False):
            raise ValueError("data.shuffle: srpo's stream is read in order; set data.shuffle=false")
        if int(config.get("dataloader_num_workers", 0)) != 0:
            raise ValueError("data.dataloader_num_workers: must be 0 with srpo's stream (workers would draw from "
                             "copies of it that never receive the verdicts)")
        prompts = self.srpo_cfg.rollout.prompts_per_step
        if int(config.get("train_batch_size", prompts)) != prompts:
            raise ValueError(f"data.train_batch_size: {config.get('train_batch_size')} differs from the srpo config's "
                             f"rollout.prompts_per_step={prompts}; change both through `srpo verl-recipe`")

    def _index_rows(self) -> dict[str, int]:
        """srpo uid -> row of the (length-filtered) dataframe."""
        infos = self.dataframe["extra_info"]
        rows: dict[str, int] = {}
        for i, info in enumerate(infos):
            uid = (info or {}).get("uid")
            if uid is None:
                raise ValueError(f"{self.original_data_files}: row {i} has no extra_info.uid; export the data with "
                                 "`srpo verl-recipe` (or srpo.data.loaders.export_verl)")
            rows.setdefault(str(uid), i)
        if not rows:
            raise ValueError(f"{self.original_data_files}: no training rows left after verl's prompt filter "
                             f"(data.max_prompt_length={self.max_prompt_length}, and the tokenizer must have a chat "
                             "template); see verl's log above")
        dropped = len(self.dataframe) - len(rows)
        if dropped:
            log.warning("srpo dataset: %d rows repeat a uid; each problem is kept once", dropped)
        return rows

    def _problem(self, row: int):
        from srpo.data.formats import row_to_problem

        return row_to_problem(dict(self.dataframe[row]), f"{self.original_data_files} row {row}", format="verl")

    def __len__(self) -> int:
        return super().__len__() if self.stream is None else len(self.stream)

    def __getitem__(self, item):
        if self.stream is None:
            return super().__getitem__(item)
        problem = self.stream.prompt(int(item))
        return super().__getitem__(self.row_of_uid[problem.uid])

    # torchdata's Stateful protocol: StatefulDataLoader puts this into verl's data.pt
    def state_dict(self) -> dict:
        return {} if self.stream is None else {STATE_KEY: self.stream.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        if self.stream is not None and state and STATE_KEY in state:
            self.stream.load_state_dict(state[STATE_KEY])


def build_stream(cfg, problems) -> SrpoStream:
    """The stream of a srpo config over `problems` (mixture seeded by run.seed, curriculum, lookahead)."""
    from srpo.curriculum import Curriculum
    from srpo.engines.verl.setup import lookahead
    from srpo.sampling import DomainMixture

    problems = sorted(problems, key=lambda p: p.uid)
    mixture = DomainMixture.from_problems(problems, cfg.run.seed, cfg.sampling)
    curriculum = Curriculum(cfg.curriculum, domain_sizes=mixture.domain_sizes())
    curriculum.require_domains(mixture.domains)
    return SrpoStream(mixture, curriculum, problems, cfg.rollout.prompts_per_step, cfg.run.total_steps,
                      lookahead(cfg))


def _load_srpo_config(config):
    from srpo.config import load_config

    path = config.get("srpo_config")
    if not path:
        raise ValueError("data.srpo_config: SrpoDataset needs the frozen srpo config `srpo verl-recipe` wrote "
                         "(+data.srpo_config=<dir>/srpo.yaml)")
    return load_config(str(path))


def _paths(files) -> list[str]:
    files = [files] if isinstance(files, str) else list(files)
    return [str(Path(str(f)).expanduser().absolute()) for f in files]
