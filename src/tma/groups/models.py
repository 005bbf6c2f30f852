"""Tables of the groups domain: groups and their memberships."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, func, select
from sqlalchemy.orm import Mapped, column_property, mapped_column, relationship

from tma.core.db import ID, Base, ListedMixin, UTCDateTime, utcnow
from tma.users.models import User


# Like tma.users.models.SystemRole and tma.progress.models.ProgressStatus, a three-valued
# StrEnum before its table: alike in shape only, each names the values of its own column.
class GroupRole(StrEnum):
    """A member's role inside one group."""

    MEMBER = "member"
    MODERATOR = "moderator"
    OWNER = "owner"


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (CheckConstraint("role IN ('member', 'moderator', 'owner')", name="role"),)

    group_id: Mapped[int] = mapped_column(
        ID, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ID, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(20), default=GroupRole.MEMBER.value)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    user: Mapped[User] = relationship(lazy="raise")


class Group(ListedMixin, Base):
    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(
        ID, ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    # Loaded in the same SELECT as the group: no query per group in lists.
    member_count: Mapped[int] = column_property(
        select(func.count())
        .where(GroupMember.group_id == id)
        .correlate_except(GroupMember)
        .scalar_subquery()
    )
