"""Every table, imported in one place for Alembic and the tests."""

from tma.children.models import Child
from tma.core.db import Base
from tma.core.idempotency import IdempotencyKey
from tma.core.versions import ContentVersion
from tma.courses.models import Course, CourseModule, GroupCourse, Module
from tma.events.models import LearningEvent, Webhook, WebhookDelivery, WebhookTry, XapiPush
from tma.files.models import StoredFile
from tma.groups.models import Group, GroupMember
from tma.i18n.models import Translation
from tma.notifications.models import Notification, NotificationSettings, PushToken
from tma.posts.models import Post
from tma.progress.models import CourseProgress, ModuleProgress, PostProgress, SyncedEvent
from tma.quizzes.models import QuizAnswer, QuizAttempt, QuizOption, QuizQuestion
from tma.users.models import Role, User

__all__ = [
    "Base",
    "Child",
    "ContentVersion",
    "Course",
    "CourseModule",
    "CourseProgress",
    "Group",
    "GroupCourse",
    "GroupMember",
    "IdempotencyKey",
    "LearningEvent",
    "Module",
    "ModuleProgress",
    "Notification",
    "NotificationSettings",
    "Post",
    "PostProgress",
    "PushToken",
    "QuizAnswer",
    "QuizAttempt",
    "QuizOption",
    "QuizQuestion",
    "Role",
    "StoredFile",
    "SyncedEvent",
    "Translation",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookTry",
    "XapiPush",
]
