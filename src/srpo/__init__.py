"""srpo: GRPO and SRPO (two-staged history-resampling policy optimization) for verifiable math and code."""

__version__ = "0.1.0"
