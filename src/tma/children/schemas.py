"""Request and response bodies of the children domain."""

from datetime import date, datetime

from tma.core.schemas import ReadModel, WriteModel, example
from tma.core.types import ChildName, IsoDate


# Read and write models are field lists with an example: alike in shape with every other
# domain's (UserRead, PostProgressRead, MemberAdded), sharing nothing but the shape.
class ChildRead(ReadModel):
    """A child as every endpoint returns it."""

    model_config = example(
        id=4,
        name="Sam",
        birth_date="2024-05-17",
        created_at="2026-09-01T09:30:00Z",
        updated_at="2026-09-01T09:30:00Z",
    )

    id: int
    name: str
    birth_date: date
    created_at: datetime
    updated_at: datetime


class ChildCreate(WriteModel):
    """POST body: the child's name and birth date (not in the future, at most 18 years ago)."""

    model_config = example(name="Sam", birth_date="2024-05-17")

    name: ChildName
    birth_date: IsoDate


class ChildUpdate(WriteModel):
    """PATCH body: only the fields sent change; neither may be null."""

    model_config = example(name="Samuel")

    not_null = ("name", "birth_date")

    name: ChildName | None = None
    birth_date: IsoDate | None = None
