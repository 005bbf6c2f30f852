"""Tables of the children domain: a parent's children (companion spec §4)."""

from datetime import date

from sqlalchemy import Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from tma.core.db import ID, Base, TimestampMixin

# Up to this many children per account (companion spec §4).
MAX_CHILDREN = 10


class Child(TimestampMixin, Base):
    """One child of one parent; goes with its parent's account."""

    __tablename__ = "children"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    user_id: Mapped[int] = mapped_column(ID, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
