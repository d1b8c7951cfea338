"""Curation switches and parameters (`CurateConfig`), shared by the curation pipeline and its filters."""

from __future__ import annotations

from dataclasses import dataclass

from srpo.core.configlib import ConfigError, option

REFERENCE_TEMPLATE = "```python\n{solution}\n```"


@dataclass(frozen=True)
class CurateConfig:
    """Curation switches and parameters."""

    malformed: bool = option(True, "drop rows that do not load (bad JSON, no prompt, bad tests); off = such a row is "
                                   "an error.")
    incomplete: bool = option(True, "drop prompts shorter than `min_prompt_chars` or longer than `max_prompt_chars` "
                                    "(0 = no limit), math without a gold answer, code without a usable tests dict.")
    min_prompt_chars: int = option(10, "see `incomplete`.")
    max_prompt_chars: int = option(0, "see `incomplete`.")
    exact_dedup: bool = option(True, "drop a problem whose normalised prompt (NFKC, lower case, collapsed spaces) "
                                     "equals an earlier one's in the same domain.")
    near_dedup: bool = option(True, "drop a problem whose character n-gram Jaccard with an earlier one is >= "
                                    "`near_dup_threshold` (MinHash-LSH candidates, exact Jaccard check; see "
                                    "`srpo.data.dedup`).")
    near_dup_threshold: float = option(0.85, "Jaccard similarity in (0, 1].")
    near_dup_ngram: int = option(5, "characters per shingle.")
    near_dup_num_perm: int = option(64, "MinHash functions; must be divisible by `near_dup_bands`.")
    near_dup_bands: int = option(16, "LSH bands; more bands catch lower similarities as candidates.")
    noise: bool = option(True, "drop prompts with URLs, HTML tags, mojibake, control characters or punctuation runs.")
    multi_part: bool = option(True, "(math) drop questions with parts such as \"(a) ... (b)\", \"(i) ... (ii)\", "
                                    "\"Part 1 ... Part 2\".")
    proof: bool = option(True, "(math) drop \"prove/show that\" questions.")
    figure: bool = option(True, "(math) drop questions that refer to a figure, diagram, picture, chart or table.")
    single_answer: bool = option(True, "(math) drop golds that list several values, alternatives (\"or\", ±), "
                                       "non-answers (\"none\", \"answers may vary\"), are longer than "
                                       "`max_answer_chars` or have more than `max_answer_words` words outside LaTeX "
                                       "commands.")
    max_answer_chars: int = option(64, "see `single_answer`.")
    max_answer_words: int = option(3, "see `single_answer`.")
    gold_parse: bool = option(True, "(math) drop golds math-verify cannot parse.")
    runtime: bool = option(True, "(code) drop code needing file I/O, network, a GUI, non-stdlib imports or "
                                 "interactive input (prompt wording; imports and calls in the reference solution, "
                                 "test code and prelude).")
    allowed_imports: list[str] = option(factory=list,
                                        doc="top-level modules that `runtime` accepts besides the standard library.")
    reference_check: bool = option(True, "(code) run each reference solution (``metadata[\"solution\"]``) through "
                                         "the scorer and drop the problem if it fails its own tests (duplicates are "
                                         "judged against the problems that pass). Needs a score_fn (the CLI "
                                         "builds the real one).")
    reference_template: str = option(
        REFERENCE_TEMPLATE, "how a reference solution is presented to the scorer as a response; "
                                      "``{solution}`` is replaced by the code. A reference that already is a "
                                      "response (holds a fenced code block, and is not itself Python) is sent "
                                      "as it is. Training's load check of reference solutions uses it too.")
    require_reference: bool = option(False, "(code) drop problems without a reference solution (``no_reference``) "
                                            "instead of keeping them unverified (they are counted in the report "
                                            "either way).")

    def validate(self) -> None:
        if not 0 < self.near_dup_threshold <= 1:
            raise ConfigError(f"near_dup_threshold: must be in (0, 1], got {self.near_dup_threshold}")
        if self.near_dup_ngram < 1:
            raise ConfigError(f"near_dup_ngram: must be >= 1, got {self.near_dup_ngram}")
        if self.near_dup_bands < 1 or self.near_dup_num_perm % self.near_dup_bands:
            raise ConfigError(f"near_dup_bands: must divide near_dup_num_perm ({self.near_dup_num_perm}), "
                              f"got {self.near_dup_bands}")
        if self.min_prompt_chars < 0 or self.max_prompt_chars < 0:
            raise ConfigError("min_prompt_chars: prompt limits must be >= 0")
        if "{solution}" not in self.reference_template:
            raise ConfigError("reference_template: must contain {solution}")
