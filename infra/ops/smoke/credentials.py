"""What a smoke run needs before anything else, found as the tools that will use it find it: AWS
credentials and a region through boto3's own chain (environment, profile, SSO, container or
instance role), Aspose's in ``ASPOSE_CLIENT_ID`` and ``ASPOSE_CLIENT_SECRET``.

Without them the run is skipped with one line naming exactly what is missing (and exit 0: an
opt-in proof that was not opted into has not failed). Nothing found here is ever printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.stack.aspose import ENV_CLIENT_ID, ENV_CLIENT_SECRET
from ocr_fetch.credentials import Credentials

NO_AWS_CREDENTIALS = (
    "AWS credentials (boto3 found none: no AWS_ACCESS_KEY_ID, AWS_PROFILE, ~/.aws profile, SSO "
    "session, container or instance role)"
)
NO_REGION = "an AWS region (AWS_DEFAULT_REGION, or the profile's region)"


@dataclass
class Found:
    """What was found: a boto3 session when AWS is usable, Aspose's credentials, what is missing."""

    session: Any = None
    aspose: Credentials | None = None
    missing: list[str] = field(default_factory=list)


def find_credentials(environment: Mapping[str, str]) -> Found:
    """AWS through boto3 (it reads the process's environment and ~/.aws), Aspose from
    ``environment``."""
    found = Found()
    session, problem = _aws_session()
    if problem:
        found.missing.append(problem)
    if session is None or session.region_name is None:
        found.missing.append(NO_REGION)
    if not problem:
        found.session = session
    found.missing += [v for v in (ENV_CLIENT_ID, ENV_CLIENT_SECRET) if not environment.get(v)]
    if not found.missing:
        found.aspose = Credentials(environment[ENV_CLIENT_ID], environment[ENV_CLIENT_SECRET])
    return found


def _aws_session() -> tuple[Any, str | None]:
    """A boto3 session and None, or what is wrong with the AWS configuration."""
    import boto3
    from botocore.exceptions import BotoCoreError, ProfileNotFound

    try:
        session = boto3.session.Session()
        credentials = session.get_credentials()
    except ProfileNotFound as error:
        return None, f"the AWS profile {getattr(error, 'kwargs', {}).get('profile')!r} (not found)"
    except BotoCoreError as error:
        return None, f"usable AWS credentials ({type(error).__name__})"
    return session, None if credentials is not None else NO_AWS_CREDENTIALS


def missing_line(missing: list[str]) -> str:
    """The one line a run without what it needs prints."""
    return (
        "make smoke: skipped, nothing deployed: missing "
        + "; ".join(missing)
        + ". See README.md, Prove it on your account."
    )
