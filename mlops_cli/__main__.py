import sys

from mlops_cli.app import main

sys.exit(main())
