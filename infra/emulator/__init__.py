"""A local imitation of the Aspose.OCR Cloud v5.0 region-recognition API, with fault injection.

from infra.emulator import EmulatorServer, EmulatorConfig
with EmulatorServer(EmulatorConfig(timing=Timing(queue_delay_s=0.1))) as server:
    server.base_url, server.token_url, server.admin.inject("http_503")
"""

from infra.emulator.admin import EmulatorAdmin, EmulatorAdminError
from infra.emulator.config import EmulatorConfig, Timing
from infra.emulator.faults import REQUEST_FAULTS, TASK_FAULTS
from infra.emulator.ocr import Box, Line, RapidOcrRecognizer, Recognizer, Word
from infra.emulator.process import EmulatorProcess
from infra.emulator.results import RESULT_LAYOUT
from infra.emulator.server import EmulatorServer

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
