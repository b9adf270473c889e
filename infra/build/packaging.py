"""``sam package`` for the local AWS: upload code and definitions, point the template at them.

Every local ``CodeUri`` directory is zipped (what AWS would receive: the directory as it is, or a
``sam build`` artifact directory) and every local ``DefinitionUri`` file uploaded to a deployment
bucket; the template then refers to their S3 locations. The template is read with SAM's own YAML
loader and translated offline to plain CloudFormation with ``samtranslator``.
"""

from __future__ import annotations

import copy
import io
import json
import os
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEPLOYMENT_BUCKET = "local-cloud-deployments"
_SKIP_IN_ZIP = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def load_template(path: Path) -> dict[str, Any]:
    """A SAM or CloudFormation template, YAML or JSON, with its short-form tags understood."""
    from samtranslator.yaml_helper import yaml_parse

    loaded: dict[str, Any] = yaml_parse(path.read_text(encoding="utf-8"))
    return loaded


class _NoManagedPolicies:
    """samtranslator asks for the managed-policy map; offline there is none to fetch."""

    def load(self) -> dict[str, str]:
        return {}


def translate(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """The SAM template as plain CloudFormation, translated offline."""
    from samtranslator.translator.transform import transform

    # samtranslator reads the partition from the default region.
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    result: dict[str, Any] = transform(
        copy.deepcopy(template), dict(parameters), _NoManagedPolicies()
    )
    return result


def package(template: dict[str, Any], base_dir: Path, s3: Any, region: str) -> dict[str, Any]:
    """A copy of ``template`` whose local code and definitions are uploaded to S3."""
    _ensure_bucket(s3, DEPLOYMENT_BUCKET, region)
    uploader = _CodeUploader(s3, base_dir)

    def upload_definition(logical_id: str, definition_uri: str) -> Any:
        key = f"statemachine/{logical_id}/{Path(definition_uri).name}"
        body = (base_dir / definition_uri).read_bytes()
        s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=body)
        return {"Bucket": DEPLOYMENT_BUCKET, "Key": key}

    return _relocated(template, uploader.upload, upload_definition)


Relocate = Callable[[Any], Any]


def _relocated(
    template: dict[str, Any], code: Relocate, definition: Callable[[str, str], Any]
) -> dict[str, Any]:
    """A copy of ``template`` with every local ``CodeUri`` passed through ``code`` and every
    local ``DefinitionUri`` through ``definition(logical_id, uri)``."""
    relocated = copy.deepcopy(template)
    globals_function = relocated.get("Globals", {}).get("Function", {})
    if "CodeUri" in globals_function:
        globals_function["CodeUri"] = code(globals_function["CodeUri"])
    for logical_id, resource in relocated.get("Resources", {}).items():
        properties = resource.get("Properties") or {}
        if resource.get("Type") == "AWS::Serverless::Function" and "CodeUri" in properties:
            properties["CodeUri"] = code(properties["CodeUri"])
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            definition_uri = properties.get("DefinitionUri")
            if isinstance(definition_uri, str) and not definition_uri.startswith("s3://"):
                properties["DefinitionUri"] = definition(logical_id, definition_uri)
    return relocated


class _CodeUploader:
    """Zips and uploads each local code directory once."""

    def __init__(self, s3: Any, base_dir: Path) -> None:
        self._s3 = s3
        self._base_dir = base_dir
        self._uploaded: dict[Path, str] = {}

    def upload(self, code_uri: Any) -> Any:
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            return code_uri
        directory = (self._base_dir / code_uri).resolve()
        if directory not in self._uploaded:
            key = f"code/{directory.name}-{len(self._uploaded)}.zip"
            self._s3.put_object(Bucket=DEPLOYMENT_BUCKET, Key=key, Body=zip_directory(directory))
            self._uploaded[directory] = f"s3://{DEPLOYMENT_BUCKET}/{key}"
        return self._uploaded[directory]


def zip_directory(directory: Path) -> bytes:
    """The directory as a deployment package: files at the root, caches left out."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            relative = path.relative_to(directory)
            if path.is_file() and not (_SKIP_IN_ZIP & set(relative.parts)):
                archive.write(path, relative.as_posix())
    return buffer.getvalue()


def _ensure_bucket(s3: Any, bucket: str, region: str) -> None:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}}
        s3.create_bucket(Bucket=bucket, **({} if region == "us-east-1" else where))


# -- AWS::LanguageExtensions -----------------------------------------------------------------------
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
_POLICY_ATTRIBUTES = ("DeletionPolicy", "UpdateReplacePolicy")
_UNSUPPORTED_EXTENSIONS = ("Fn::ForEach", "Fn::Length", "Fn::ToJsonString")


def resolve_language_extensions(
    template: dict[str, Any], parameters: dict[str, str]
) -> dict[str, Any]:
    """A copy of ``template`` with what ``AWS::LanguageExtensions`` does on CloudFormation done.

    Only the part templates here use: a ``DeletionPolicy``/``UpdateReplacePolicy`` that is a
    ``Ref`` to a parameter becomes that parameter's value. Its other functions (``Fn::ForEach``,
    ``Fn::Length``, ``Fn::ToJsonString``) are refused by name rather than deployed wrong.
    """
    transforms = template.get("Transform")
    listed = [transforms] if isinstance(transforms, str) else list(transforms or [])
    if LANGUAGE_EXTENSIONS not in listed:
        return template
    used = sorted({name for name in _UNSUPPORTED_EXTENSIONS if name in json.dumps(template)})
    if used:
        raise ValueError(f"AWS::LanguageExtensions functions not supported locally: {used}")
    resolved = copy.deepcopy(template)
    rest = [t for t in listed if t != LANGUAGE_EXTENSIONS]
    resolved["Transform"] = rest[0] if len(rest) == 1 else rest
    declared = resolved.get("Parameters") or {}
    for logical_id, resource in (resolved.get("Resources") or {}).items():
        for attribute in _POLICY_ATTRIBUTES:
            value = resource.get(attribute)
            if isinstance(value, dict):
                resource[attribute] = _parameter_value(value, declared, parameters, logical_id)
    return resolved


def _parameter_value(
    value: dict[str, Any], declared: dict[str, Any], parameters: dict[str, str], where: str
) -> str:
    name = value.get("Ref")
    if not isinstance(name, str) or name not in declared:
        raise ValueError(f"{where}: a policy attribute may only Ref a parameter, not {value}")
    chosen = parameters.get(name, declared[name].get("Default"))
    if chosen is None:
        raise ValueError(f"{where}: parameter {name} has no value")
    return str(chosen)


def translate_for_review(
    template: dict[str, Any], parameters: dict[str, str], region: str
) -> dict[str, Any]:
    """What CloudFormation would receive for ``template`` (language extensions resolved, the SAM
    transform done), with placeholder code locations: for scanners and template tests."""
    placeholders = _relocated(
        template,
        lambda _: "s3://placeholder/code.zip",
        lambda _, __: {"Bucket": "placeholder", "Key": "definition.json"},
    )
    return translate(resolve_language_extensions(placeholders, parameters), parameters, region)
