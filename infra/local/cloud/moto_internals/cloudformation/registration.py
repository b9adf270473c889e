"""The models registered with moto's CloudFormation, once a process. They stay: they only make
moto's CloudFormation do what CloudFormation does.

moto picks a type's model among ``CloudFormationModel.__subclasses__()`` (direct subclasses
only), through ``lru_cache``d ``get_model_list``/``get_model_map``/``get_name_type_map`` in
``moto/cloudformation/parsing.py``, the last defined winning for its type: these are defined
after moto's own, then those caches cleared.
"""

from __future__ import annotations

from typing import Any

from infra.local.cloud.moto_internals.cloudformation.alarm import AlarmModel
from infra.local.cloud.moto_internals.cloudformation.base import Amended
from infra.local.cloud.moto_internals.cloudformation.event_source_mapping import (
    EventSourceMappingModel,
)
from infra.local.cloud.moto_internals.cloudformation.iam_policy import InlinePolicyModel
from infra.local.cloud.moto_internals.cloudformation.iam_role import RoleModel
from infra.local.cloud.moto_internals.cloudformation.kms_key import KmsKeyModel
from infra.local.cloud.moto_internals.cloudformation.lambda_alias import AliasModel
from infra.local.cloud.moto_internals.cloudformation.lambda_function import FunctionModel
from infra.local.cloud.moto_internals.cloudformation.lambda_version import VersionModel
from infra.local.cloud.moto_internals.cloudformation.log_group import LogGroupModel
from infra.local.cloud.moto_internals.cloudformation.secret import SecretModel
from infra.local.cloud.moto_internals.patching import once

#: moto's models, amended.
AMENDED: tuple[type[Amended], ...] = (
    FunctionModel,
    EventSourceMappingModel,
    KmsKeyModel,
    LogGroupModel,
    RoleModel,
    InlinePolicyModel,
)
#: Types moto lacks.
ADDED = (VersionModel, AliasModel, SecretModel, AlarmModel)


def register_cloudformation_models() -> None:
    """Teach moto's CloudFormation the resource types SAM stacks use that it lacks or gets
    wrong (each module says what and why)."""
    once("cloudformation models", _register)


def _register() -> None:
    from moto.cloudformation import parsing
    from moto.core.common_models import CloudFormationModel

    # moto tracks its model classes through their metaclass.
    meta: Any = type(CloudFormationModel)
    # An amended model inherits the rest (type, name property, attributes) from moto's.
    bases: list[tuple[Any, ...]] = [(model, model._moto_model()) for model in AMENDED]
    bases += [(model,) for model in ADDED]
    models = {
        classes[-1].cloudformation_type(): meta(
            f"LocalCloud{classes[0].__name__.removesuffix('Model')}",
            (*classes, CloudFormationModel),
            {"__module__": __name__},
        )
        for classes in bases
    }
    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    chosen = parsing.get_model_map()
    ignored = sorted(kind for kind, model in models.items() if chosen.get(kind) is not model)
    if ignored:
        raise RuntimeError(f"moto's CloudFormation did not take the models for {ignored}")
