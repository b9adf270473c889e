"""The least-privilege comparison itself (tests/support/iam.py) finds what it must."""

from __future__ import annotations

from tests.support.iam import Call, Grant, ungranted, unused

ROLE = "arn:aws:iam::1:role/starter"
QUEUE = "arn:aws:sqs:eu-west-1:1:dlq"
TABLE = "arn:aws:dynamodb:eu-west-1:1:table/results"
GROUP = "arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/x:*"


def grants(*extra: Grant) -> dict[str, list[Grant]]:
    return {
        ROLE: [
            Grant(ROLE, "DeadLetter", ("sqs:SendMessage",), (QUEUE,)),
            Grant(ROLE, "Logs", ("logs:PutLogEvents",), (GROUP,)),
            Grant(ROLE, "Traces", ("xray:PutTraceSegments",), ("*",)),
            *extra,
        ]
    }


CALLS = [
    Call(ROLE, "sqs:SendMessage", QUEUE, "code"),
    Call(ROLE, "logs:PutLogEvents", GROUP.replace(":*", ":log-stream:s1"), "lambda-service"),
]


def test_calls_within_the_grants_pass_both_ways() -> None:
    assert ungranted(CALLS, grants()) == []
    # xray is the platform's (never seen locally), so it is not unused
    assert unused(CALLS, grants(), {ROLE: "function"}) == []


def test_a_call_no_statement_allows_is_reported() -> None:
    other_queue = Call(ROLE, "sqs:SendMessage", QUEUE + "-other", "code")
    other_action = Call(ROLE, "sqs:DeleteMessage", QUEUE, "code")
    other_role = Call("arn:aws:iam::1:role/other", "sqs:SendMessage", QUEUE, "code")
    calls = [*CALLS, other_queue, other_action, other_role]
    assert ungranted(calls, grants()) == [other_queue, other_action, other_role]


def test_a_grant_no_call_used_is_reported() -> None:
    extra = Grant(ROLE, "Read", ("dynamodb:GetItem",), (TABLE,))
    assert unused(CALLS, grants(extra), {ROLE: "function"}) == [f"Read dynamodb:GetItem on {TABLE}"]


def test_iam_wildcards_match_as_iam_does() -> None:
    grant = Grant(ROLE, "S3", ("s3:Get*",), ("arn:aws:s3:::bucket/results/*",))
    assert grant.allows("s3:GetObject", "arn:aws:s3:::bucket/results/t/raw.json")
    assert grant.allows("S3:getobject", "arn:aws:s3:::bucket/results/t/raw.json")
    assert not grant.allows("s3:PutObject", "arn:aws:s3:::bucket/results/t/raw.json")
    assert not grant.allows("s3:GetObject", "arn:aws:s3:::bucket/other/raw.json")
