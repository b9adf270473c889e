"""The leak scan's reading of a place (infra/local/leaks.py), without a cloud."""

from __future__ import annotations

import json

from infra.local import leaks
from infra.local.samples import id_card


def test_recognised_words_are_found_in_any_json_depth_and_case() -> None:
    tokens = leaks.recognised_tokens([id_card()])
    assert {"MUSTERMANN", "ERIKA", "T22000129", "2031"} <= tokens
    state = json.dumps({"input": json.dumps({"note": "mustermann was here"})})
    found = leaks.leaks({"history x": state}, leaks.Secret(frozenset(tokens)))
    assert found == ["'MUSTERMANN' in history x"]


def test_numbers_and_guids_are_not_recognised_text() -> None:
    # A wait of 2031 s is a measurement; a task id's hex groups are not words of the card.
    tokens = frozenset({"2031", "0129"})
    line = json.dumps({"wait": 2031, "taskId": "7c9e6679-7425-40de-944b-e07fc1f90129"})
    assert leaks.leaks({"logs g": line}, leaks.Secret(tokens)) == []


def test_the_platform_s_measurements_are_not_recognised_text() -> None:
    tokens = frozenset({"1964"})
    report = (
        "REPORT RequestId: 7c9e6679-7425-40de-944b-e07fc1f90129\tDuration: 1964.12 ms\t"
        "Billed Duration: 1965 ms\tMemory Size: 256 MB\tMax Memory Used: 80 MB"
    )
    assert leaks.leaks({"logs g": report}, leaks.Secret(tokens)) == []
    said = "[INFO] born 12.08.1964"
    assert leaks.leaks({"logs g": said}, leaks.Secret(tokens)) == ["'1964' in logs g"]


def test_secrets_and_canaries_are_found_as_raw_text() -> None:
    secret = leaks.Secret(frozenset(), ("s3cr3t-value",), ("CANARY4711",))
    places = {"dead letters": "...s3cr3t-value...", "table items": "xCANARY4711x"}
    assert leaks.leaks(places, secret) == [
        "a secret or token in dead letters",
        "the canary 'CANARY4711' in table items",
    ]
