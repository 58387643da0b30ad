"""The embedded local AWS: moto, the real handlers run in-process, and the real ASL files executed."""

import sys
from pathlib import Path

# Lambda puts every layer's python/ folder on sys.path (/opt/python); the local runtime does the same.
_CORE_LAYER = str(Path(__file__).resolve().parent.parent / "layers" / "core" / "python")
if _CORE_LAYER not in sys.path:
    sys.path.insert(0, _CORE_LAYER)
