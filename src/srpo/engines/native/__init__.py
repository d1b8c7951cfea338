"""srpo's own engine: the training loop, its setup, the actor, experience records, step metrics,
checkpoints, rollout engines and model loading. Runs on a CPU or one GPU."""
