"""``python -m srpo.cli ...`` (what ``torchrun -m srpo.cli train CONFIG engine=trl`` starts in every process)."""

import sys

from srpo.cli import main

if __name__ == "__main__":
    sys.exit(main())
