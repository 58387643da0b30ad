"""The embedded local AWS: moto, the real handlers run in-process, and the real ASL files executed.

At the top, the parts every run goes through: the stack (``stack.py``, reading ``template.py``), the Lambda runtime
(``runtime.py``, ``workers.py``), the stack served over HTTP (``gateway.py``, ``aws_server.py``), the kept state
(``state.py``) and the register of moto patches (``moto_patches.py``). Below them, ``emulated/`` holds what moto leaves
out of each AWS service, ``runs/`` the drivers the CLI, tests, tools and benchmarks share, and ``cli/`` the command
line (``python -m local``).
"""

import sys
from pathlib import Path

# Lambda puts every layer's python/ folder on sys.path (/opt/python); the local runtime does the same.
_CORE_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "core" / "python")
if _CORE_LAYER not in sys.path:
    sys.path.insert(0, _CORE_LAYER)
