"""Analysis of rollouts during training: reflective behaviour, code inside math answers, sample selection."""

from srpo.analysis.code_detect import contains_code
from srpo.analysis.reflection import DEFAULT_FAMILIES, AnalysisConfig, detect_reflection, keyword_pattern
from srpo.analysis.rollout import rollout_metrics
from srpo.analysis.samples import SAMPLE_FIELDS, SampleLogConfig, sample_rows, select_samples

__all__ = [
    "AnalysisConfig",
    "DEFAULT_FAMILIES",
    "SAMPLE_FIELDS",
    "SampleLogConfig",
    "contains_code",
    "detect_reflection",
    "keyword_pattern",
    "rollout_metrics",
    "sample_rows",
    "select_samples",
]
