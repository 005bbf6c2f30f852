"""Tables of the users domain: system roles and user accounts."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, String, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from tma.core.db import ID, Base, TimestampMixin, UTCDateTime
from tma.core.identity import EMAIL_KEY_MAX, USERNAME_KEY_MAX, email_key, username_key


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
        # One identity per canonical key (tma.core.identity), on both databases alike.
        Index("uq_users_username_key", "username_key", unique=True),
        Index("uq_users_email_key", "email_key", unique=True),
        Index("ix_users_created_at_id", "created_at", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(ID, primary_key=True)
    username: Mapped[str] = mapped_column(String(50))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Set from `username` and `email` by the validators below: never written on their own.
    # (The empty default only lets migration 0004 add the columns to a filled table.)
    username_key: Mapped[str] = mapped_column(String(USERNAME_KEY_MAX), server_default="")
    email_key: Mapped[str] = mapped_column(String(EMAIL_KEY_MAX), server_default="")
    hashed_password: Mapped[str] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    child_name: Mapped[str | None] = mapped_column(String(100))
    child_sex_assigned_at_birth: Mapped[str | None] = mapped_column(String(20))
    child_dob: Mapped[date | None] = mapped_column(Date)
    avatar_url: Mapped[str | None] = mapped_column(String(500))
    # The reader's language (a BCP 47 tag, tma.i18n), null: none chosen.
    language: Mapped[str | None] = mapped_column(String(35))
    role_id: Mapped[int] = mapped_column(ForeignKey("roles.id", ondelete="RESTRICT"), index=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Tokens issued at or before this instant are refused (password change, reset, disable,
    # logout-all); null: every unexpired token of the account is good.
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # This user's own data's version, bumped by triggers (tma.core.versions): never set here.
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")

    role: Mapped[Role] = relationship(lazy="raise")

    @validates("username")
    def _key_username(self, _key: str, value: str) -> str:
        self.username_key = username_key(value)
        return value

    @validates("email")
    def _key_email(self, _key: str, value: str) -> str:
        self.email_key = email_key(value)
        return value
