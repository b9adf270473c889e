"""The collaborators the handlers share, built once per Lambda container from the settings."""

from __future__ import annotations

from functools import cache

from ocr_fetch.client import AsposeClient, secret_credentials
from ocr_fetch.settings import get_settings
from ocr_fetch.storage import ResultStore


@cache
def results_store() -> ResultStore:
    return ResultStore.from_settings(get_settings())


@cache
def aspose_client() -> AsposeClient:
    settings = get_settings()
    return AsposeClient.create(
        base_url=settings.aspose_base_url,
        token_url=settings.aspose_token_url,
        credentials=secret_credentials(settings.aspose_secret_name, settings.secret_cache_seconds),
        timeout=(settings.connect_timeout_seconds, settings.read_timeout_seconds),
    )
