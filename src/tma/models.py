"""Every table, imported in one place for Alembic and the tests."""

from tma.core.db import Base
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.files.models import StoredFile
from tma.groups.models import Group, GroupMember
from tma.posts.models import Post, QuizOption, QuizQuestion
from tma.progress.models import PostProgress
from tma.quizzes.models import QuizAttempt
from tma.users.models import Role, User

__all__ = [
    "Base",
    "Course",
    "CourseModule",
    "Group",
    "GroupCourse",
    "GroupMember",
    "Module",
    "Post",
    "PostProgress",
    "QuizAttempt",
    "QuizOption",
    "QuizQuestion",
    "Role",
    "StoredFile",
    "User",
]
