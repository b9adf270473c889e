"""What every model here shares: moto's entry point (``create_from_cloudformation_json``, its
signature written once), the resource a model gives back, and the two kinds of model.

- :class:`Added`: a type moto's CloudFormation lacks, created through moto's own backends;
- :class:`Amended`: moto's model of a type, with what it drops or gets wrong amended (the
  template's properties before moto creates the resource, the resource after).
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Creation:
    """What moto's CloudFormation hands a model to create one resource."""

    #: The physical name moto chose (or the template's name property).
    name: str
    #: The resource as the template declares it (``Properties`` always there).
    template: dict[str, Any]
    account_id: str
    region: str
    #: Whatever else moto passes (kept for moto's own model).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def properties(self) -> dict[str, Any]:
        properties: dict[str, Any] = self.template["Properties"]
        return properties


class Model:
    """A model as moto's CloudFormation calls it (the names here are private: a model of a type
    moto has also inherits from moto's, and must shadow nothing of it but its entry point)."""

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region: str,
        **kwargs: Any,
    ) -> Any:
        cloudformation_json.setdefault("Properties", {})
        return cls._create(Creation(resource_name, cloudformation_json, account_id, region, kwargs))

    @classmethod
    def _create(cls, creation: Creation) -> Any:
        raise NotImplementedError


class Resource:
    """A resource in a stack's resource map as moto's CloudFormation uses it: what ``Ref`` gives,
    the attributes ``GetAtt`` gives, and how deleting the stack deletes it."""

    def __init__(
        self, physical_id: str, attributes: dict[str, str], on_delete: Callable[[], object]
    ) -> None:
        self.physical_resource_id = physical_id
        self.logical_resource_id = ""  # set by moto after creation
        self._attributes = attributes
        self._on_delete = on_delete

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name in self._attributes:
            return self._attributes[attribute_name]
        raise NotImplementedError(f'"Fn::GetAtt" : [ "{{0}}" , "{attribute_name}" ]"')

    def delete(self, account_id: str, region_name: str) -> None:
        self._on_delete()

    def is_created(self) -> bool:
        return True


class Added(Model):
    """A type moto lacks: what moto asks of a model besides creating it."""

    TYPE = ""
    ATTRIBUTES: frozenset[str] = frozenset()
    #: The property naming the resource (empty: moto names it after the stack and logical id).
    NAME_PROPERTY = ""

    @classmethod
    def cloudformation_type(cls) -> str:
        return cls.TYPE

    @classmethod
    def cloudformation_name_type(cls) -> str:
        return cls.NAME_PROPERTY

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.ATTRIBUTES


class Amended(Model):
    """moto's model of a type, amended; it inherits the rest (type, name property, attributes)
    from moto's, which ``MOTO_MODEL`` names (module and class, imported only when needed)."""

    MOTO_MODEL: tuple[str, str] = ("", "")

    @classmethod
    def _moto_model(cls) -> Any:
        module, name = cls.MOTO_MODEL
        return getattr(importlib.import_module(module), name)

    @classmethod
    def _before(cls, creation: Creation) -> None:
        """Amend the properties moto reads."""

    @classmethod
    def _after(cls, resource: Any, creation: Creation) -> Any:
        """Amend what moto created (or stand in for it in the stack)."""
        return resource

    @classmethod
    def _create(cls, creation: Creation) -> Any:
        cls._before(creation)
        resource = cls._moto_model().create_from_cloudformation_json(
            creation.name,
            creation.template,
            creation.account_id,
            creation.region,
            **creation.extra,
        )
        return cls._after(resource, creation)


def json_text(document: Any) -> str:
    """A policy document as the APIs store it: JSON text."""
    return document if isinstance(document, str) else json.dumps(document)


def unless_gone(action: Callable[[], object], gone: type[Exception]) -> Callable[[], None]:
    """``action``, where the resource being gone already (with its function) is fine: moto
    deletes a stack's resources in no particular order."""

    def run() -> None:
        with contextlib.suppress(gone):
            action()

    return run
