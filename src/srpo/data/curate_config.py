"""Curation switches and parameters (`CurateConfig`), shared by the curation pipeline and its filters."""

from __future__ import annotations

from dataclasses import dataclass, field

from srpo.core.configlib import ConfigError


@dataclass(frozen=True)
class CurateConfig:
    """Curation switches and parameters.

    malformed: drop rows that do not load (bad JSON, no prompt, bad tests); off = such a row is an error.
    incomplete: drop prompts shorter than `min_prompt_chars` or longer than `max_prompt_chars` (0 = no
        limit), math without a gold answer, code without a usable tests dict.
    min_prompt_chars: see `incomplete`.
    max_prompt_chars: see `incomplete`.
    exact_dedup: drop a problem whose normalised prompt (NFKC, lower case, collapsed spaces) equals an
        earlier one's in the same domain.
    near_dedup: drop a problem whose character n-gram Jaccard with an earlier one is >= `near_dup_threshold`
        (MinHash-LSH candidates, exact Jaccard check; see `srpo.data.dedup`).
    near_dup_threshold: Jaccard similarity in (0, 1].
    near_dup_ngram: characters per shingle.
    near_dup_num_perm: MinHash functions; must be divisible by `near_dup_bands`.
    near_dup_bands: LSH bands; more bands catch lower similarities as candidates.
    noise: drop prompts with URLs, HTML tags, mojibake, control characters or punctuation runs.
    multi_part: (math) drop questions with parts such as "(a) ... (b)", "(i) ... (ii)", "Part 1 ... Part 2".
    proof: (math) drop "prove/show that" questions.
    figure: (math) drop questions that refer to a figure, diagram, picture, chart or table.
    single_answer: (math) drop golds that list several values, alternatives ("or", ±), non-answers
        ("none", "answers may vary"), are longer than `max_answer_chars` or have more than
        `max_answer_words` words outside LaTeX commands.
    max_answer_chars: see `single_answer`.
    max_answer_words: see `single_answer`.
    gold_parse: (math) drop golds math-verify cannot parse.
    runtime: (code) drop code needing file I/O, network, a GUI, non-stdlib imports or interactive input
        (prompt wording; imports and calls in the reference solution, test code and prelude).
    allowed_imports: top-level modules that `runtime` accepts besides the standard library.
    reference_check: (code) run each reference solution (``metadata["solution"]``) through the scorer and
        drop the problem if it fails its own tests. Needs a score_fn (the CLI builds the real one).
    reference_template: how a reference solution is presented to the scorer as a response;
        ``{solution}`` is replaced by the code.
    require_reference: (code) drop problems without a reference solution (``no_reference``) instead of
        keeping them unverified (they are counted in the report either way).
    """

    malformed: bool = True
    incomplete: bool = True
    min_prompt_chars: int = 10
    max_prompt_chars: int = 0
    exact_dedup: bool = True
    near_dedup: bool = True
    near_dup_threshold: float = 0.85
    near_dup_ngram: int = 5
    near_dup_num_perm: int = 64
    near_dup_bands: int = 16
    noise: bool = True
    multi_part: bool = True
    proof: bool = True
    figure: bool = True
    single_answer: bool = True
    max_answer_chars: int = 64
    max_answer_words: int = 3
    gold_parse: bool = True
    runtime: bool = True
    allowed_imports: list[str] = field(default_factory=list)
    reference_check: bool = True
    reference_template: str = "```python\n{solution}\n```"
    require_reference: bool = False

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
