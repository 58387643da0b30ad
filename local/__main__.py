"""`python -m local`: the local command line (local/cli/, one module per group of commands)."""

import sys

from local.cli import main

if __name__ == "__main__":
    sys.exit(main())
