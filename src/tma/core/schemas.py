"""Pydantic base classes shared by every domain's schemas."""

from enum import StrEnum
from typing import Any, ClassVar, cast, get_args, get_origin

from pydantic import BaseModel, ConfigDict, TypeAdapter, model_validator
from typing_extensions import TypedDict  # pydantic needs it (not typing's) before 3.12


class ReadModel(BaseModel):
    """A response body, read from ORM objects or row mappings."""

    model_config = ConfigDict(from_attributes=True)


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
    fields = {name: _row_annotation(f.annotation) for name, f in model.model_fields.items()}
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
