"""What S3 would ask KMS for: moto keeps an object's and a bucket's encryption but never calls
KMS, so the local cloud records the call S3 makes on the caller's behalf from what moto kept."""

from __future__ import annotations

from infra.local.cloud.moto_internals.patching import ACCOUNT_ID


# --- S3 -----------------------------------------------------------------------------------------
def s3_kms_key(region: str, bucket_name: str, key_name: str | None) -> str | None:
    """The customer KMS key S3 encrypts an object with (SSE-KMS): the one it was written with,
    else the bucket's default encryption's; None without one. moto keeps both (``FakeKey``,
    ``FakeBucket.encryption``) but never calls KMS, so the local cloud records what S3 would ask
    KMS for on the caller's behalf from them."""
    from moto.s3.exceptions import MissingBucket
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    try:
        bucket = s3_backends[ACCOUNT_ID][get_partition(region)].get_bucket(bucket_name)
    except MissingBucket:
        return None
    stored = bucket.keys.get(key_name) if key_name else None
    if stored is not None and stored.encryption == "aws:kms" and stored.kms_key_id:
        return str(stored.kms_key_id)
    rule = (bucket.encryption or {}).get("Rule") or {}
    default = (rule[0] if isinstance(rule, list) else rule).get(
        "ApplyServerSideEncryptionByDefault"
    ) or {}
    key = default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
    return str(key) if key else None
