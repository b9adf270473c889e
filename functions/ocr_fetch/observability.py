"""Powertools logger, metrics and tracer shared by the handlers.

The service name (:data:`SERVICE`) and the metrics namespace (:data:`NAMESPACE`) are set here, as
constructor arguments, and those win over Powertools' environment variables: template.yaml's
``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE`` change nothing. What the
environment still decides:

- the log level: ``POWERTOOLS_LOG_LEVEL`` (INFO when unset), unless Lambda's own log-level
  setting (``AWS_LAMBDA_LOG_LEVEL``) is given, which wins;
- metrics: written as CloudWatch EMF lines on stdout when each invocation ends, wherever the
  handler runs, in Lambda or not; ``POWERTOOLS_METRICS_DISABLED=true`` turns them off;
- tracing: the tracer decides once, when this module is first imported. It is disabled when
  ``LAMBDA_TASK_ROOT`` is unset (unit tests, the demo's own process), under SAM or Chalice local
  (``AWS_SAM_LOCAL``, ``AWS_CHALICE_CLI_MODE``) or when ``POWERTOOLS_TRACE_DISABLED`` is true.
  Anywhere else it is enabled and sends X-Ray segments to the daemon, including in a local Lambda
  stand-in that sets ``LAMBDA_TASK_ROOT`` as a real runtime does.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "ocr-region-results"
NAMESPACE = "OcrRegionResults"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE)
