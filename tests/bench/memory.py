"""Memory: how much a region costs the check function (fetch and store the answer) and the store
function (decode and store the region, or refuse it as oversize), as peak RSS over its size
(issue target 2.5x).

Each path (:data:`PATHS`) runs the real handler in a fresh process against moto's server (S3,
DynamoDB, Secrets Manager) and a stub Aspose serving a completed task with one Text region of 1,
10 and 50 MiB (``MaxRegionBytes`` and ``MaxResponseBytes`` raised to let 50 MiB through). A small
task first warms the process up (clients made, models loaded); the figure is the peak resident set
(VmHWM, what ``ru_maxrss`` reports, reset after the warm-up through ``/proc/self/clear_refs``)
above the resident set just before the big task, divided by the region's size. The peak itself is
printed too: what a function's ``MemorySize`` must hold.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import boto3
from moto.server import ThreadedMotoServer

from infra.stack.serving import free_port
from ocr_fetch.layout import answer_key

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".local" / "bench" / "memory.json"
LOG = ROOT / ".local" / "bench" / "memory.log"
MIB = 1024 * 1024
SIZES_MIB = (1, 10, 50)
#: The check fetching and storing the answer; the store decoding and storing the region; the
#: store refusing the region as over ``MaxRegionBytes`` (a region error, nothing decoded).
PATHS = ("check", "store", "oversize")
TARGET_RATIO = 2.5
REGION = "us-east-1"
BUCKET = "bench-results"
TABLE = "bench-results"
SECRET = "bench-aspose"
LINE = b"MUSTERMANN ERIKA 12.08.1964 BERLIN\n"

#: Run in the fresh process: warm up on one task, then measure the other.
_CHILD = """
import json, os, re, sys
import boto3
from ocr_fetch.handlers import check_status, store_results
from ocr_fetch.layout import answer_key

class Context:
    function_name = "bench"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    memory_limit_in_mb = 10240
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 600_000

def status(field):
    with open("/proc/self/status") as status:
        return int(re.search(field + r":\\s+(\\d+) kB", status.read()).group(1)) * 1024

path, warm, big, out = sys.argv[1:5]
def run(task):
    if path == "check":
        event = {
            "taskId": task, "executionName": task, "submittedAt": "2026-01-01T00:00:00Z",
            "poll": {"polls": 0},
        }
        answer = check_status.handler(event, Context())
        assert answer["status"] == "Completed", answer
    else:
        key = answer_key(task, task, 1)
        bucket = os.environ["RESULTS_BUCKET"]
        etag = boto3.client("s3").head_object(Bucket=bucket, Key=key)["ETag"]
        poll = {"polls": 1, "rawKey": key, "rawETag": etag}
        event = {
            "input": {"taskId": task, "poll": poll},
            "executionArn": "arn:bench", "executionName": task,
        }
        answer = store_results.handler(event, Context())
        assert answer["kind"] == "Completed", answer
        rejected = path == "oversize" and task == big  # over MAX_REGION_BYTES: a region error
        assert answer["detail"]["errorCount"] == int(rejected), answer
run(warm)
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # the peak (VmHWM) starts again from here
before = status("VmRSS")
run(big)
with open(out, "w") as file:
    json.dump({"before": before, "peak": status("VmHWM")}, file)
"""


def body_of(size: int) -> bytes:
    """A completed task's answer with one Text region of ``size`` bytes."""
    text = (LINE * (size // len(LINE) + 1))[:size]
    return json.dumps(
        {
            "id": None,
            "taskStatus": "Completed",
            "responseStatusCode": "Ok",
            "results": [{"type": "Text", "data": base64.b64encode(text).decode("ascii")}],
            "error": None,
        }
    ).encode()


class _Aspose(BaseHTTPRequestHandler):
    """Tokens for anyone, and the answer of each task in ``bodies``."""

    bodies: ClassVar[dict[str, bytes]] = {}

    def do_POST(self) -> None:
        self._answer(json.dumps({"access_token": "bench", "expires_in": 3600}).encode())

    def do_GET(self) -> None:
        task = self.path.rsplit("id=", 1)[-1]
        self._answer(self.bodies[task])

    def _answer(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@contextmanager
def _services() -> Iterator[tuple[str, str]]:
    """moto's server and the stub Aspose, each on a free port: their URLs."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request lines
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    moto.start()
    aspose = ThreadingHTTPServer(("127.0.0.1", 0), _Aspose)
    threading.Thread(target=aspose.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{moto._port}", f"http://127.0.0.1:{aspose.server_address[1]}"
    finally:
        aspose.shutdown()
        moto.stop()


def _environment(aws: str, aspose: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        "AWS_ENDPOINT_URL": aws,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "RESULTS_BUCKET": BUCKET,
        "RESULTS_TABLE": TABLE,
        "ASPOSE_SECRET_NAME": SECRET,
        "ASPOSE_BASE_URL": aspose,
        "ASPOSE_TOKEN_URL": aspose + "/connect/token",
        "MAX_REGION_BYTES": str(64 * MIB),
        "MAX_RESPONSE_BYTES": str(96 * MIB),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }


def _client(aws: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=aws,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _prepare(aws: str) -> None:
    clients = {name: _client(aws, name) for name in ("s3", "dynamodb", "secretsmanager")}
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["dynamodb"].create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "taskId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "taskId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    secret = json.dumps({"clientId": "bench", "clientSecret": "bench"})
    clients["secretsmanager"].create_secret(Name=SECRET, SecretString=secret)


def _task(aws: str, size: int) -> str:
    """A task whose answer Aspose serves and whose raw answer is stored, as the check leaves it."""
    task = str(uuid.uuid4())
    body = body_of(size)
    _Aspose.bodies[task] = body
    _client(aws, "s3").put_object(Bucket=BUCKET, Key=answer_key(task, task, 1), Body=body)
    return task


def _measure(path: str, warm: str, big: str, environment: dict[str, str]) -> dict[str, int]:
    with tempfile.TemporaryDirectory() as scratch, LOG.open("a") as log:
        out = Path(scratch) / "peak.json"
        subprocess.run(  # noqa: S603 - our interpreter on our own code
            [sys.executable, "-c", _CHILD, path, warm, big, str(out)],
            env=environment,
            stdout=log,
            stderr=log,
            check=True,
            timeout=600,
        )
        figures: dict[str, int] = json.loads(out.read_text())
        return figures


def memory() -> None:
    print(f"\n## Memory: peak RSS above the warm process / region size (target <= {TARGET_RATIO}x)")
    headings = (f"{path + ': x':>11} {'peak MB':>8}" for path in PATHS)
    print(f"  {'region':>7} | " + " | ".join(headings))
    LOG.parent.mkdir(parents=True, exist_ok=True)
    LOG.write_text("")
    results: dict[str, Any] = {"target_ratio": TARGET_RATIO, "at": datetime.now(UTC).isoformat()}
    with _services() as (aws, aspose):
        _prepare(aws)
        environment = _environment(aws, aspose)
        warm = _task(aws, 1024)
        for mib in SIZES_MIB:
            size = mib * MIB
            big = _task(aws, size)
            row: dict[str, Any] = {}
            for path in PATHS:
                limit = {"MAX_REGION_BYTES": str(size - 1)} if path == "oversize" else {}
                figures = _measure(path, warm, big, environment | limit)
                row[path] = {
                    "ratio": round((figures["peak"] - figures["before"]) / size, 2),
                    "peak_mb": round(figures["peak"] / 1e6, 1),
                    "before_mb": round(figures["before"] / 1e6, 1),
                }
            results[f"{mib} MiB"] = row
            cells = (f"{row[path]['ratio']:>10.2f}x {row[path]['peak_mb']:>8.0f}" for path in PATHS)
            print(f"  {mib:>3} MiB | " + " | ".join(cells))
    OUT.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"written to {OUT.relative_to(ROOT)} (handler logs in {LOG.relative_to(ROOT)})")


if __name__ == "__main__":
    memory()
