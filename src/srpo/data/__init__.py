"""Problem records, loaders, curation filters and difficulty labels."""

from srpo.data.loaders import LoadIssue, export_jsonl, export_verl, iter_problems, load_problems
from srpo.core.problem import DOMAINS, Problem, make_uid
from srpo.data.rows import DataError
from srpo.data.sources import DATA_SOURCES

__all__ = ["DOMAINS", "DataError", "LoadIssue", "Problem", "export_jsonl", "export_verl", "iter_problems",
           "load_problems", "make_uid", "DATA_SOURCES"]
