"""Every table, imported in one place for Alembic and the tests."""

from tma.core.db import Base
from tma.courses.models import Course, CourseModule, GroupCourse
from tma.groups.models import Group, GroupMember
from tma.users.models import Role, User

__all__ = ["Base", "Course", "CourseModule", "Group", "GroupCourse", "GroupMember", "Role", "User"]
