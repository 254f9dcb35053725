#!/usr/bin/env python3
"""Container entrypoint: `entrypoint.py [serve|fetch-weights]` (spcs_llm/custom_image/entrypoint.py)."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In the image the package sits beside this file; in a checkout it is under ../scripts, which is
# appended, not prepended: the step scripts there (e.g. scripts/select.py) would shadow stdlib modules.
for candidate in (HERE, HERE.parent / "scripts"):
    if (candidate / "spcs_llm").is_dir():
        if str(candidate) not in sys.path:
            sys.path.append(str(candidate))
        break

from spcs_llm.custom_image.entrypoint import main  # noqa: E402

sys.exit(main())
