"""`python -m spcs_llm.proxy`: the image entrypoint's way to start the proxy (see __init__)."""

import sys

from .runner import main

sys.exit(main())
