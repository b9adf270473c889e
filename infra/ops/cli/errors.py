"""Exit codes, and the one error a command raises to end with one of them.

A :class:`CliError` is what the user sees: one line on stderr, never a traceback. Its message
never carries a secret, a token or recognised text.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """``ocr-results`` exit codes (documented in the README)."""

    OK = 0
    NOT_FOUND = 1  # no such task, stack, execution or dead letter (or no results yet)
    USAGE = 2  # a bad option, argument or input file
    NOT_COMPLETED = 3  # the task ended without completing (Failed, NotFound, TimedOut...)
    WAIT_TIMED_OUT = 4  # --wait gave up before the task ended
    AWS_ERROR = 5  # AWS refused or failed a call, or could not be reached
    ASPOSE_ERROR = 6  # Aspose.OCR Cloud refused or failed the submission
    INTERNAL_ERROR = 70  # a bug of ocr-results itself (EX_SOFTWARE); the line names the exception
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """Ends the command with ``code`` after printing ``message`` (one line) on stderr."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


def bad_input(message: str) -> CliError:
    return CliError(message, ExitCode.USAGE)


def not_found(message: str) -> CliError:
    return CliError(message, ExitCode.NOT_FOUND)
