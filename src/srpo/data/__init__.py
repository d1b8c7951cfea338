"""Problem records, loaders, curation filters and difficulty labels."""

from srpo.data.problem import DOMAINS, Problem, make_uid

__all__ = ["DOMAINS", "Problem", "make_uid"]
