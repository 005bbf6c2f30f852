"""Tables of the users domain: system roles and user accounts."""

from datetime import date
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, false, func, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tma.core.db import ID, Base, TimestampMixin


class SystemRole(StrEnum):
    """The three system roles, seeded by the first migration."""

    USER = "user"
    MANAGER = "manager"
    ADMIN = "admin"


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    description: Mapped[str | None] = mapped_column(String(255))


class User(TimestampMixin, Base):
    __tablename__ = "users"
    # AUTOINCREMENT: SQLite must never hand a deleted user's id to a new account, or an old
    # token would start working for someone else (PostgreSQL sequences never reuse ids).
    __table_args__ = (
        Index("uq_users_username_lower", func.lower("username"), unique=True),
        Index("ix_users_created_at_id", "created_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    hashed_password: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    child_name: Mapped[str | None] = mapped_column(String(100))
    child_sex_assigned_at_birth: Mapped[str | None] = mapped_column(String(20))
    child_dob: Mapped[date | None] = mapped_column(Date)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"), index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    role: Mapped[Role] = relationship(lazy="raise")
