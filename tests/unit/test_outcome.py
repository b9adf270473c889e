"""A region record's two public shapes, published and stored, from one definition."""

from __future__ import annotations

from ocr_fetch.outcome import OutcomeKind, RegionRecord

DECODED = RegionRecord(
    index=0,
    name="surname",
    type="Text",
    content_type="text/plain; charset=utf-8",
    s3_key="results/t/0-surname.txt",
    size=5,
)
FAILED = RegionRecord(
    index=1, type="Pdf", error="bad_signature", error_message="region 1 (Pdf): no signature"
)


def test_a_published_region_has_every_field_and_no_digest() -> None:
    assert DECODED.as_published() == {
        "index": 0,
        "name": "surname",
        "type": "Text",
        "contentType": "text/plain; charset=utf-8",
        "s3Key": "results/t/0-surname.txt",
        "size": 5,
        "error": None,
        "errorMessage": None,
    }
    assert FAILED.as_published() == {
        "index": 1,
        "name": None,
        "type": "Pdf",
        "contentType": None,
        "s3Key": None,
        "size": None,
        "error": "bad_signature",
        "errorMessage": "region 1 (Pdf): no signature",
    }


def test_a_stored_region_has_only_its_values_with_the_size_as_bytes() -> None:
    stored = DECODED.as_stored()

    # In this order: the manifest is written as it comes.
    assert list(stored) == ["index", "name", "type", "contentType", "s3Key", "bytes"]
    assert stored["bytes"] == 5
    assert FAILED.as_stored() == {
        "index": 1,
        "type": "Pdf",
        "error": "bad_signature",
        "errorMessage": "region 1 (Pdf): no signature",
    }


def test_a_better_outcome_outranks_a_worse_one() -> None:
    ranks = {kind: kind.rank for kind in OutcomeKind}

    assert ranks[OutcomeKind.COMPLETED] > ranks[OutcomeKind.FAILED] > ranks[OutcomeKind.TIMED_OUT]
    assert ranks[OutcomeKind.FAILED] == ranks[OutcomeKind.NOT_FOUND]
