"""The verl recipe: srpo's rewards, prompt stream (history resampling, domain mixture, staged curriculum) and
metrics inside verl's own v1 PPO trainer (Ray, FSDP, vLLM or SGLang), for 32B-scale runs.

A verl user keeps verl's launcher (``python -m verl.trainer.main_ppo``); srpo plugs in through verl's own
extension points, each named by a Hydra override that `setup.verl_overrides` writes:

* ``reward.custom_reward_function`` -> `reward.compute_score` (math, sandboxed code, format, language);
* ``data.custom_cls`` -> `dataset.SrpoDataset` (the prompt stream; its state rides in verl's ``data.pt``);
* ``trainer.v1.trainer_mode=srpo_sync`` -> `trainer` (verl's trainer plus the feedback of each step's
  verdicts to history resampling and the curriculum, before the checkpoint), registered in every Ray worker
  by `hook.register` (``ray_kwargs.ray_init.runtime_env.worker_process_setup_hook``);
* verl's validation on the held-out set (``data.val_files``, ``trainer.test_freq``) -> `evaluation` (srpo's
  ``eval/*`` pass@k and avg@n from its verdicts, computed in the trainer).

`setup`, `recipe`, `stream`, `reward` and `evaluation` are pure srpo (no verl import: the main test suite covers
them); `dataset` and `trainer` import verl and run only inside it. See docs/verl.md.
"""
