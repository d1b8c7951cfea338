"""``python -m srpo.cli ...`` (what ``torchrun -m srpo.cli train CONFIG engine=trl`` starts in every process)."""

import sys

from srpo.cli import main

sys.exit(main())
