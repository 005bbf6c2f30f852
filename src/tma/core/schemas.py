"""Pydantic base classes shared by every domain's schemas."""

from enum import StrEnum
from typing import (
    Any,
    ClassVar,
    NotRequired,  # pydantic needs it (not typing's) before 3.12
    cast,
    get_args,
    get_origin,
)

from pydantic import BaseModel, ConfigDict, GetJsonSchemaHandler, TypeAdapter, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema
from typing_extensions import TypedDict


def example(**values: Any) -> ConfigDict:
    """`model_config = example(name="Chess Club", ...)`: the body's example in the OpenAPI
    document (Swagger UI pre-fills requests with it). Every request and response body model
    has one; `tests/test_openapi.py` checks it. The base class's config (`extra="forbid"`,
    `from_attributes`) is kept: pydantic merges a subclass's `model_config` with its parent's.
    """
    return ConfigDict(json_schema_extra={"examples": [values]})


class ReadModel(BaseModel):
    """A response body, read from ORM objects or row mappings.

    `MAY_BE_ABSENT` names fields some callers get without the key at all (not null): the
    row adapters (`row_adapter`) accept a row without them and leave them out."""

    model_config = ConfigDict(from_attributes=True)

    MAY_BE_ABSENT: ClassVar[tuple[str, ...]] = ()


class WriteModel(BaseModel):
    """A request body: unknown fields are refused (422), so nothing is mass-assigned.

    `not_null` names optional fields that may be left out but never set to null,
    because the column behind them is NOT NULL.
    """

    model_config = ConfigDict(extra="forbid")

    not_null: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _refuse_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in cls.not_null:
                if name in data and data[name] is None:
                    raise ValueError(f"{name} may not be null")
        return data

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """The OpenAPI schema tells the truth about `not_null`: such a field may be left out,
        but its schema does not allow `null` (and has no `null` default)."""
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        properties = target.get("properties", {})
        for name in cls.not_null:
            field = cls.model_fields.get(name)
            prop = properties.get((field.alias if field else None) or name)
            if prop is None:
                continue
            options = [o for o in prop.pop("anyOf", []) if o != {"type": "null"}]
            if len(options) == 1:
                prop.update(options[0])
            elif options:
                prop["anyOf"] = options
            if prop.get("default", 0) is None:
                del prop["default"]
        return schema

    def changes(self) -> dict[str, Any]:
        """Only the fields the client sent."""
        return self.model_dump(exclude_unset=True)


def _row_annotation(annotation: Any) -> Any:
    # A read model becomes its row TypedDict, also as the items of a list; a text enum
    # becomes `str`, as a row holds the column's text (the JSON is the same).
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _row_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return str
    if get_origin(annotation) is list:
        (item,) = get_args(annotation)
        return list.__class_getitem__(_row_annotation(item))
    return annotation


def _row_type(model: type[BaseModel]) -> Any:
    absent = getattr(model, "MAY_BE_ABSENT", ())
    fields = {
        name: NotRequired[_row_annotation(f.annotation)]
        if name in absent
        else _row_annotation(f.annotation)
        for name, f in model.model_fields.items()
    }
    return cast(Any, TypedDict)(f"{model.__name__}Row", fields)


def row_adapter(model: type[BaseModel]) -> TypeAdapter[dict[str, Any]]:
    """`row_list_adapter` for one object shaped like `model`."""
    return TypeAdapter(_row_type(model))


def row_list_adapter(model: type[BaseModel]) -> TypeAdapter[list[dict[str, Any]]]:
    """A TypeAdapter for a list of plain dicts or row mappings shaped like `model` (nested
    read models become nested dicts). Validating and dumping such a list runs in Rust and
    builds no model instance per row: the lean path of the long list endpoints. The JSON is
    the same as `model`'s: same fields, same order, same types."""
    list_type: Any = list.__class_getitem__(_row_type(model))
    return TypeAdapter(list_type)
