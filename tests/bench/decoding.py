"""Decoding throughput of the store step."""

from __future__ import annotations

import base64
import time
import uuid

from ocr_fetch.decoding import decode_results
from ocr_fetch.model import OcrResponse


def decoding_throughput() -> None:
    print("\n## 3. Decoding throughput (strict Base64 + content checks)")
    text = ("MUSTERMANN ERIKA 12.08.1964 " * 4000).encode()  # ~110 KB per region
    for regions in (10, 100):
        response = OcrResponse.from_json(
            {
                "id": str(uuid.uuid4()),
                "taskStatus": "Completed",
                "responseStatusCode": "Ok",
                "results": [{"type": "Text", "data": base64.b64encode(text).decode()}] * regions,
            }
        )
        t0 = time.perf_counter()
        report = decode_results(
            response, region_names=None, expected_count=regions, max_bytes=10 * 1024 * 1024
        )
        seconds = time.perf_counter() - t0
        size = sum(r.size for r in report.decoded) / 1e6
        print(
            f"{regions:>4} regions, {size:.1f} MB: {seconds * 1000:.0f} ms "
            f"({size / seconds:.0f} MB/s)"
        )
