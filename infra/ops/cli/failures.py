"""How every way of failing becomes one line and a documented exit code: ``ocr-results``'s own
errors as they are, usage errors as typer found them, AWS's and Aspose's errors named, anything
else a bug (exit 70) whose traceback ``OCR_RESULTS_DEBUG=1`` shows."""

from __future__ import annotations

import typer

from infra.ops.cli.errors import CliError, ExitCode

#: Set, an unexpected error (a bug) shows its traceback.
DEBUG = "OCR_RESULTS_DEBUG"


def failure_of(error: BaseException) -> CliError | None:
    """The one line and exit code an exception ends the command with (None: let it through,
    as ``SystemExit``)."""
    if isinstance(error, CliError):
        return error
    if isinstance(error, KeyboardInterrupt | typer.Abort):
        return CliError("interrupted", ExitCode.INTERRUPTED)
    if isinstance(error, typer.TyperException):  # a usage error typer found
        message = getattr(error, "format_message", lambda: str(error))()
        # No command at all: the help was printed, which says it all.
        return CliError(f"{message} (see --help)" if message else "", ExitCode.USAGE)
    if not isinstance(error, Exception):
        return None
    return _service_failure(error) or CliError(
        f"unexpected {type(error).__name__}: {_clip(str(error))} (a bug: please report it"
        + f"; {DEBUG}=1 shows its traceback)",
        ExitCode.INTERNAL_ERROR,
    )


def _service_failure(error: Exception) -> CliError | None:
    """AWS's and Aspose's errors, named."""
    from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError

    from infra.stack.fleet import NoFleetTable
    from ocr_fetch import errors as product

    if isinstance(error, NoFleetTable):
        return CliError(str(error), ExitCode.NOT_FOUND)

    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "error")
        message = error.response.get("Error", {}).get("Message", "")
        return CliError(
            f"AWS {error.operation_name} failed: {code}: {_clip(message)}", ExitCode.AWS_ERROR
        )
    if isinstance(error, EndpointConnectionError):
        return CliError(
            f"cannot reach AWS at {error.kwargs.get('endpoint_url')} (for --local: is `make "
            "local` running?)",
            ExitCode.AWS_ERROR,
        )
    if isinstance(error, BotoCoreError | product.EventPublishError | product.StorageError):
        return CliError(f"AWS: {_clip(str(error))}", ExitCode.AWS_ERROR)
    aspose = (
        product.AsposeAuthError,
        product.AsposeBadRequestError,
        product.AsposeProtocolError,
        product.AsposeThrottledError,
        product.AsposeUnavailableError,
        product.CredentialsNotConfigured,
        product.ResponseTooLarge,
    )
    if isinstance(error, aspose):
        return CliError(
            f"Aspose: {type(error).__name__}: {_clip(str(error))}", ExitCode.ASPOSE_ERROR
        )
    return None


def _clip(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
