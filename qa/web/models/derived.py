"""API models derived from the core's dataclasses (qa/core/types.py and the stages' results),
so that a field is declared once, in the core, with its type, default and description.

`derived(Hit)` is a pydantic model with the fields of `Hit`; a route or the CLI makes one
with `model_validate(hit)`, which reads the object's attributes, nested dataclasses
included. What the API adds to a core type (a `url`, a property the core computes) is
declared on a subclass of the derived model, once.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import types
from collections.abc import Collection, Mapping
from typing import Any, ClassVar, Union, get_args, get_origin, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, computed_field, create_model

from qa.core.types import PassageId
from qa.web.models.common import PASSAGE_ID_NOTE, JsonPassageId, document_url


class ApiModel(BaseModel):
    """A model of the API, made from a core object by reading its attributes; every field is
    in every answer (the schema says so: a default only fills what a core object lacks)."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    #: The core dataclass the model is derived from (None for the API's own models).
    __core__: ClassVar[type | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if cls.__doc__ is None and cls.__core__ is not None:
            cls.__doc__ = cls.__core__.__doc__  # the schema's description of the object


def derived(
    core: type,
    *,
    exclude: Collection[str] = (),
    renamed: Mapping[str, str] | None = None,
    models: Collection[type[ApiModel]] = (),
) -> type[ApiModel]:
    """A model with the fields of the dataclass `core`, in its order, but the `exclude`d
    ones: their types, defaults and descriptions (`described`). A field `renamed` to another
    name keeps its value. A passage id is a string in JSON (`JsonPassageId`); a dataclass
    inside a field (`list[Citation]`) is the model among `models` derived from it."""
    renamed = renamed or {}
    unknown = {*exclude, *renamed} - {item.name for item in dataclasses.fields(core)}
    if unknown:
        raise TypeError(f"{core.__name__} has no field {', '.join(sorted(unknown))}.")
    by_core = {model.__core__: model for model in models}
    hints = get_type_hints(core)
    fields: dict[str, Any] = {}
    for item in dataclasses.fields(core):
        if item.name in exclude:
            continue
        name = renamed.get(item.name, item.name)
        description = item.metadata.get("description")
        if hints[item.name] is PassageId:
            description = " ".join(filter(None, (description, PASSAGE_ID_NOTE)))
        options: dict[str, Any] = {"description": description}
        if item.default is not dataclasses.MISSING:
            options["default"] = item.default
        elif item.default_factory is not dataclasses.MISSING:
            options["default_factory"] = item.default_factory
        if name != item.name:
            options["validation_alias"] = item.name
        fields[name] = (_api_type(hints[item.name], by_core), Field(**options))
    model = create_model(core.__name__, __base__=ApiModel, __doc__=core.__doc__, **fields)
    model.__core__ = core
    return model


def _api_type(hint: Any, models: Mapping[type, type[ApiModel]]) -> Any:
    """`hint` with every core dataclass in it replaced by its model and passage ids by
    `JsonPassageId`: list[Citation] -> list[CitationOut]."""
    if hint is PassageId:
        return JsonPassageId
    if dataclasses.is_dataclass(hint):
        if hint not in models:
            raise TypeError(f"No API model given for {hint.__name__}.")
        return models[hint]
    arguments = get_args(hint)
    if not arguments:
        return hint
    mapped = tuple(_api_type(argument, models) for argument in arguments)
    origin = get_origin(hint)
    if origin in (types.UnionType, Union):
        return functools.reduce(operator.or_, mapped)
    return origin[mapped]


class PassageLink(BaseModel):
    """The `url` of a model with a `document_id` and a `passage_id`."""

    @computed_field(description="Web page of the document, scrolled to the passage.")
    @property
    def url(self) -> str:
        return document_url(self.document_id, self.passage_id)  # type: ignore[attr-defined]
