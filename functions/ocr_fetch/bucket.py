"""The results bucket: the objects of :mod:`ocr_fetch.layout`, and nothing that decides.

Two rules make two executions of one task safe from each other. A task's submitted facts are
written once, conditionally (``If-None-Match: *``), and only read after. Everything else is
written under the writing execution's own prefix, and read back only with the key and ETag that
execution carried in its state (``If-Match``), so what is decoded is exactly what was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from ocr_fetch import aws
from ocr_fetch.errors import (
    RawAnswerMismatchError,
    RawResponseMissingError,
    StoredDataError,
    aws_error_code,
)
from ocr_fetch.layout import answer_key, is_answer_key, submitted_key
from ocr_fetch.submission import MAX_FACTS_BYTES, SubmittedFacts

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_PRECONDITION_FAILED = frozenset({"PreconditionFailed", "412"})


@dataclass(frozen=True)
class StoredAnswer:
    """Where an execution kept a final answer: the key and the ETag it was written with."""

    key: str
    etag: str


class ResultBucket:
    """The results bucket; the S3 client is created on first use unless given."""

    s3 = aws.LazyClient("s3")

    def __init__(self, name: str, *, s3: Any = None) -> None:
        self.name = name
        self.s3 = s3

    # --- the submitted facts: written once ------------------------------------------------------
    def keep_facts(self, facts: SubmittedFacts) -> tuple[SubmittedFacts, bool]:
        """Write ``facts`` unless a first submission's are there; return the facts in force and
        whether these are they (written now)."""
        key = submitted_key(facts.task_id)
        try:
            aws.call(
                self.s3.put_object,
                Bucket=self.name,
                Key=key,
                Body=facts.to_json(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as exc:
            if aws_error_code(exc) not in _PRECONDITION_FAILED:
                raise
            return self.facts(facts.task_id), False
        return facts, True

    def facts(self, task_id: str) -> SubmittedFacts:
        """The task's submitted facts; :class:`StoredDataError` naming the key when they are
        missing or not what :meth:`keep_facts` writes."""
        key = submitted_key(task_id)
        where = f"s3://{self.name}/{key}"
        body = self._get(key, missing=StoredDataError(f"no submitted facts at {where}"))
        if len(body) > MAX_FACTS_BYTES:
            raise StoredDataError(f"the submitted facts at {where} are too large")
        try:
            facts = SubmittedFacts.from_json(body, where)
        except ValueError as exc:
            raise StoredDataError(str(exc)) from None
        if facts.task_id != task_id:
            raise StoredDataError(f"the submitted facts at {where} are another task's")
        return facts

    # --- one execution's objects ----------------------------------------------------------------
    def put_answer(self, task_id: str, execution_name: str, poll: int, body: bytes) -> StoredAnswer:
        """Keep a final answer as received, under the execution's own prefix."""
        key = answer_key(task_id, execution_name, poll)
        answer = aws.call(
            self.s3.put_object,
            Bucket=self.name,
            Key=key,
            Body=body,
            ContentType="application/json",
        )
        return StoredAnswer(key, str(answer.get("ETag", "")))

    def get_answer(self, task_id: str, execution_name: str, stored: StoredAnswer) -> bytes:
        """Exactly the answer that execution kept: its own key, unchanged since (``If-Match``).

        :class:`RawAnswerMismatchError` for a key that is not that execution's answer or an
        object changed since; :class:`RawResponseMissingError` when it is gone.
        """
        if not is_answer_key(stored.key, task_id, execution_name) or not stored.etag:
            raise RawAnswerMismatchError(
                f"the state points at {stored.key!r}, which is not an answer kept by execution "
                f"{execution_name} of task {task_id}"
            )
        where = f"s3://{self.name}/{stored.key}"
        try:
            return self._get(
                stored.key,
                missing=RawResponseMissingError(f"no answer at {where}"),
                IfMatch=stored.etag,
            )
        except ClientError as exc:
            if aws_error_code(exc) in _PRECONDITION_FAILED:
                raise RawAnswerMismatchError(f"the answer at {where} changed since") from None
            raise

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """Write one object (a region, a manifest) at a key of :mod:`ocr_fetch.layout`."""
        aws.call(self.s3.put_object, Bucket=self.name, Key=key, Body=body, ContentType=content_type)

    def _get(self, key: str, *, missing: Exception, **conditions: str) -> bytes:
        try:
            answer = aws.call(self.s3.get_object, Bucket=self.name, Key=key, **conditions)
        except ClientError as exc:
            if aws_error_code(exc) in _MISSING:
                raise missing from None
            raise
        body: bytes = answer["Body"].read()
        return body
