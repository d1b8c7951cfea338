"""Ray's ``worker_process_setup_hook`` for the verl recipe: makes srpo's trainers known to verl.

verl's ``main_ppo`` looks up ``trainer.v1.trainer_mode`` in its trainer registry inside a Ray actor (its
TaskRunner), so the module that registers srpo's trainers must be imported in that process before the
lookup. The recipe sets ``+ray_kwargs.ray_init.runtime_env.worker_process_setup_hook=srpo.engines.verl.hook.register``;
verl merges it into ``ray.init``'s runtime environment and Ray calls it in every worker process it starts.
"""


def register() -> None:
    """Import the module that registers ``srpo_sync`` and ``srpo_colocate_async`` (idempotent)."""
    import srpo.engines.verl.trainer  # noqa: F401  (registration)
