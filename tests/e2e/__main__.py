"""`python -m tests.e2e` (what `make e2e` runs): see tests/e2e/runner.py."""

import sys

from tests.e2e.runner import main

sys.exit(main())
