"""Which stack a command works on, and how to reach the Aspose.OCR Cloud that stack uses.

``--stack NAME``: a deployed stack, found by its outputs (CloudFormation ``DescribeStacks``) with
the usual AWS profile and region; its Aspose as :func:`~infra.stack.aspose.deployed_aspose`
finds it. ``--local``: the stack ``make local`` runs, from ``.local/stack.json``, with the
emulator's local credentials. Credentials are read only when a submission needs them and are
never printed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from infra.ops.cli.errors import CliError, ExitCode, bad_input, not_found
from infra.stack.aspose import AsposeAccess, deployed_aspose
from infra.stack.session import StackSession
from infra.stack.state_file import DEFAULT_STATE_FILE, LocalState


@dataclass(frozen=True)
class Target:
    """A stack to work on: its session, what to call it, and (on demand) its Aspose."""

    description: str
    session: StackSession
    aspose: Callable[[], AsposeAccess]


@dataclass(frozen=True)
class Where:
    """What the global options said: ``--local`` (with its state file) or ``--stack``."""

    local: bool = False
    stack: str | None = None
    profile: str | None = None
    region: str | None = None
    state_file: Path = DEFAULT_STATE_FILE


def resolve(where: Where) -> Target:
    """The target the options name; a one-line error when they name none, or two."""
    if where.local and where.stack:
        raise bad_input("give --local or --stack NAME, not both")
    if where.local:
        return local_target(where.state_file)
    if where.stack:
        return aws_target(where.stack, profile=where.profile, region=where.region)
    raise bad_input("which stack? give --stack NAME (deployed on AWS) or --local (make local)")


def local_target(state_file: Path = DEFAULT_STATE_FILE) -> Target:
    try:
        value = json.loads(state_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise bad_input(
            f"no local cloud: {state_file} is missing (start one with `make local`)"
        ) from None
    except ValueError:
        raise bad_input(f"{state_file} is not the JSON `make local` writes") from None
    try:
        state = LocalState.from_json(value)
        session = StackSession.from_local(state)
    except (KeyError, ValueError, TypeError, AttributeError) as error:
        raise bad_input(
            f"{state_file} does not describe a stack of this product ({error})"
        ) from None

    def aspose() -> AsposeAccess:
        if state.aspose is None:
            raise bad_input(f"{state_file}: this local cloud runs no Aspose emulator")
        return state.aspose

    return Target(f"local stack {state.stack_name} ({state.aws_endpoint})", session, aspose)


def aws_target(stack: str, *, profile: str | None = None, region: str | None = None) -> Target:
    import boto3
    from botocore.exceptions import ClientError, ProfileNotFound

    try:
        boto_session = boto3.session.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        raise bad_input(f"no AWS profile named {profile!r}") from None
    if boto_session.region_name is None:
        raise bad_input("no AWS region: give --region, or set AWS_REGION or the profile's region")
    try:
        session = StackSession.for_stack(stack, boto_session)
    except ClientError as error:
        if "does not exist" in str(error):
            raise not_found(f"no stack named {stack!r} in {boto_session.region_name}") from None
        raise
    except ValueError as error:
        raise CliError(f"stack {stack!r}: {error}", ExitCode.USAGE) from None

    def aspose() -> AsposeAccess:
        return deployed_aspose(session, os.environ)

    return Target(f"stack {stack} ({boto_session.region_name})", session, aspose)
