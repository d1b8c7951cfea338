"""The ground floor every other layer stands on: shared records (`Problem`, `RewardResult`,
`SamplingParams`), the registry, config machinery and JSONL io. It imports no other srpo package."""
