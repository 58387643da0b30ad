"""Domain package of the serverless MLOps bundle: data, training, evaluation, registry.

Nothing in here knows about Lambda events; the handlers in ``functions/`` translate events into the typed
calls of this package.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
