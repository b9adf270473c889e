"""Powertools logger and metrics shared by the handlers.

The service name (:data:`SERVICE`) and the metrics namespace (:data:`NAMESPACE`) are set here and
only here. What the environment still decides:

- the log level: ``POWERTOOLS_LOG_LEVEL`` (INFO when unset), unless Lambda's own log-level
  setting (``AWS_LAMBDA_LOG_LEVEL``) is given, which wins;
- metrics: written as CloudWatch EMF lines on stdout when each invocation ends, wherever the
  handler runs, in Lambda or not; ``POWERTOOLS_METRICS_DISABLED=true`` turns them off.

Tracing is Lambda's own (``Tracing: Active`` in template.yaml: a segment per invocation, with its
init and its duration) and the state machine's; the functions carry no X-Ray SDK. Powertools'
tracer would add a subsegment per AWS and HTTP call, but it pulls in ``aws-xray-sdk`` (and with
it a second botocore, most of the deployment package) and adds about 180 ms to every cold start,
for detail the execution history and the logs already give.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "ocr-region-results"
NAMESPACE = "OcrRegionResults"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)


def count_by(name: str, dimension: str, value: str, count: float = 1) -> None:
    """Count ``name`` under one more dimension (``cause``, ``resultType``...), written at once:
    the shared :data:`metrics` carry only ``service``, so a dimension set on them would split
    every other metric of the invocation too."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=count, namespace=NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        metric.add_dimension(name=dimension, value=value)
