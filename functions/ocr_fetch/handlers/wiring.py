"""The collaborators the handlers share, built once per Lambda container from the settings."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from ocr_fetch.settings import get_settings
from ocr_fetch.storage import ResultStore

if TYPE_CHECKING:
    from ocr_fetch.client import AsposeClient


@cache
def results_store() -> ResultStore:
    return ResultStore.from_settings(get_settings())


@cache
def aspose_client() -> AsposeClient:
    # Only the check function calls Aspose: the others do not import requests at all.
    from ocr_fetch.client import AsposeClient, Limits, SecretCredentials

    settings = get_settings()
    return AsposeClient.create(
        base_url=settings.aspose_base_url,
        token_url=settings.aspose_token_url,
        credentials=SecretCredentials(settings.aspose_secret_name, settings.secret_cache_seconds),
        limits=Limits(
            timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
            max_response_bytes=settings.max_response_bytes,
        ),
    )
