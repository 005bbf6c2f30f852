"""Pydantic base classes shared by every domain's schemas."""

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


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
