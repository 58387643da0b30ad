"""The handlers' Logger, Tracer and Metrics, built in one place, and the decorators every step handler wears.

Every function logs and publishes under the stack's Globals (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE,
POWERTOOLS_LOG_LEVEL), so one instance of each serves them all. The Tracer is made by the first handler that is
traced, not at import: constructing it loads the X-Ray SDK (~200 ms) even with tracing disabled, and the lean
handlers (predict, predict_sklearn, batch) use the logger only and must not pay for it at cold start.
"""

from collections.abc import Callable
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

Handler = Callable[[Any, Any], Any]

logger = Logger()
metrics = Metrics()


@cache
def tracer() -> Tracer:
    return Tracer()


def instrumented(handler: Handler | None = None, *, correlation_id_path: str | None = None) -> Any:
    """``handler`` wrapped as Powertools' examples wrap one: ``inject_lambda_context`` (outermost), then
    ``capture_lambda_handler``, then ``log_metrics(capture_cold_start_metric=True)``. Used bare (``@instrumented``)
    or with the path of the request id to log as the correlation id (``@instrumented(correlation_id_path=...)``)."""
    if handler is None:
        return partial(instrumented, correlation_id_path=correlation_id_path)
    with_metrics = metrics.log_metrics(handler, capture_cold_start_metric=True)
    traced = tracer().capture_lambda_handler(with_metrics)
    return logger.inject_lambda_context(traced, correlation_id_path=correlation_id_path)
