"""A local imitation of the Aspose.OCR Cloud v5.0 region-recognition API, with fault injection.

from infra.local.emulator import EmulatorServer, EmulatorConfig
with EmulatorServer(EmulatorConfig(timing=Timing(queue_delay_s=0.1))) as server:
    server.base_url, server.token_url, server.admin.inject("http_503")
"""

from infra.local.emulator.admin import EmulatorAdmin, EmulatorAdminError
from infra.local.emulator.config import EmulatorConfig, Timing
from infra.local.emulator.faults import REQUEST_FAULTS, TASK_FAULTS
from infra.local.emulator.ocr import Box, Line, RapidOcrRecognizer, Recognizer, Word
from infra.local.emulator.process import EmulatorProcess
from infra.local.emulator.results import RESULT_LAYOUT
from infra.local.emulator.server import EmulatorServer

__all__ = [
    "REQUEST_FAULTS",
    "RESULT_LAYOUT",
    "TASK_FAULTS",
    "Box",
    "EmulatorAdmin",
    "EmulatorAdminError",
    "EmulatorConfig",
    "EmulatorProcess",
    "EmulatorServer",
    "Line",
    "RapidOcrRecognizer",
    "Recognizer",
    "Timing",
    "Word",
]
