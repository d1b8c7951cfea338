"""``python -m srpo ...``: the same command line as ``srpo ...`` (``python -m srpo.cli`` also works)."""

import sys

from srpo.cli import main

if __name__ == "__main__":
    sys.exit(main())
