"""What ``ocr-results`` refuses before it reaches any stack: bad files, options and targets, each
one line with exit code 2; and the example region files, which fit the demo's documents."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local.samples import EXAMPLES, SAMPLES, region_file, write_samples
from infra.ops.cli.inputs import image_from_bytes, load_regions
from tests.cli.conftest import ocr_results

REGION = {
    "name": "surname",
    "topLeftX": 10,
    "topLeftY": 15,
    "bottomRightX": 200,
    "bottomRightY": 50,
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("samples")
    write_samples(directory)
    return directory


def submit(samples: Path, regions: object, *extra: str, image: str = "id_card.png") -> str:
    """``submit`` with a region file holding ``regions``; its one error line (exit code 2)."""
    path = samples / "regions.json"
    path.write_text(regions if isinstance(regions, str) else json.dumps(regions))
    ran = ocr_results(
        "--local",
        "--state-file",
        str(samples / "none.json"),
        "submit",
        str(samples / image),
        "--regions",
        str(path),
        *extra,
    )
    assert ran.code == 2, ran.err
    assert ran.out == ""
    return ran.error_line


@pytest.mark.parametrize(
    ("regions", "says"),
    [
        ("[{", "not JSON"),
        ("{}", "must be a non-empty JSON list"),
        ([], "must be a non-empty JSON list"),
        (["surname"], "region 1 must be an object"),
        ([{**REGION, "left": 3}], "unknown field 'left'"),
        ([{k: v for k, v in REGION.items() if k != "topLeftY"}], "topLeftY is missing"),
        ([{**REGION, "topLeftX": -1}], "topLeftX must be a whole number"),
        ([{**REGION, "topLeftX": 1.5}], "topLeftX must be a whole number"),
        ([{**REGION, "topLeftX": True}], "topLeftX must be a whole number"),
        ([{**REGION, "bottomRightX": 5}], "top-left corner must be above and left"),
        ([{**REGION, "name": ""}], "name must be a string of 1 to 64"),
        ([{**REGION, "bottomRightX": 5000}], "reaches past the image"),
        ([REGION] * 501, "more than 500"),
        ("[" * 1000 + "]" * 1000, "nested more than"),
    ],
)
def test_a_bad_region_file_is_one_line(samples: Path, regions: object, says: str) -> None:
    assert says in submit(samples, regions)


def test_bad_images_and_options_are_one_line(samples: Path) -> None:
    (samples / "doc.pdf").write_bytes(b"%PDF-1.7 not an image")
    (samples / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)

    assert "no such image" in submit(samples, [REGION], image="missing.png")
    assert "a PDF, which region recognition does not take" in submit(
        samples, [REGION], image="doc.pdf"
    )
    assert "cannot be read" in submit(samples, [REGION], image="broken.png")
    # A PNG that declares 20000 x 20000 pixels: refused as input, not a bug (exit 70)
    (samples / "bomb.png").write_bytes(_png_header(20_000, 20_000))
    assert "too large to submit" in submit(samples, [REGION], image="bomb.png")
    assert "--result-type 'Word' is not one of" in submit(
        samples, [REGION], "--result-type", "Word"
    )
    assert "--correlation-id must be 1 to 128" in submit(
        samples, [REGION], "--correlation-id", "x" * 129
    )


def test_the_target_must_be_named_once_and_exist(tmp_path: Path) -> None:
    neither = ocr_results("status", "2ce30237-86da-41ef-88e9-84f0b7acffc0")
    both = ocr_results("--local", "--stack", "s", "status", "2ce30237-86da-41ef-88e9-84f0b7acffc0")
    missing = ocr_results("--local", "--state-file", str(tmp_path / "no.json"), "list")
    (tmp_path / "bad.json").write_text("{}")
    foreign = ocr_results("--local", "--state-file", str(tmp_path / "bad.json"), "list")

    assert (neither.code, both.code, missing.code, foreign.code) == (2, 2, 2, 2)
    assert "--stack NAME" in neither.error_line
    assert "not both" in both.error_line
    assert "start one with `make local`" in missing.error_line
    assert "does not describe a stack" in foreign.error_line


def test_usage_errors_are_one_line_with_code_2() -> None:
    for args in (["frobnicate"], ["status"], ["list", "--limit", "x"], ["--local", "submit"]):
        ran = ocr_results(*args)
        assert ran.code == 2, args
        assert "(see --help)" in ran.error_line


def test_help_lists_every_command_and_the_exit_codes() -> None:
    ran = ocr_results("--help")

    assert ran.code == 0
    for name in ("submit", "status", "inspect", "results", "list", "refetch", "dlq"):
        assert name in ran.out
    assert "4 --wait timed out" in " ".join(ran.out.split())
    bare = ocr_results()
    assert bare.code == 2
    assert "Usage: ocr-results" in bare.out
    assert bare.err == ""


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_example_region_files_fit_the_demo_documents(name: str) -> None:
    document = SAMPLES[name]()
    shipped = EXAMPLES / f"{name}.regions.json"

    assert json.loads(shipped.read_text()) == region_file(document)
    image = image_from_bytes(document.png, Path(f"{name}.png"))
    regions = load_regions(shipped, image)
    assert [r.name for r in regions] == document.region_names


def _png_header(width: int, height: int) -> bytes:
    """A PNG declaring ``width`` x ``height`` with no pixels: all PIL reads to know its size."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")
