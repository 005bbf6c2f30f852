"""Who may see what of the learning content: the one rule, as query fragments.

Staff (managers, admins) see everything; a `user` sees a course assigned to at least one
group they are a member of, a module linked to at least one course they see, and a post or
quiz when they see its module. Modules, posts, quizzes, files and progress reuse these
fragments instead of writing the rule again."""

from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import aliased

from tma.courses.models import CourseModule, GroupCourse
from tma.groups.models import GroupMember


def course_visible_to(course_id: Any, user_id: Any) -> ColumnElement[bool]:
    """True when course `course_id` is assigned to a group `user_id` is a member of."""
    assignment = aliased(GroupCourse)
    member = aliased(GroupMember)
    # Correlated explicitly: the course and the user may come from a statement several
    # levels out (tma.courses.availability nests this rule).
    return (
        exists()
        .where(
            assignment.course_id == course_id,
            member.group_id == assignment.group_id,
            member.user_id == user_id,
        )
        .correlate_except(assignment, member)
    )


def module_visible_to(module_id: Any, user_id: Any) -> ColumnElement[bool]:
    """True when module `module_id` is linked to a course `user_id` sees."""
    link = aliased(CourseModule)
    return exists().where(link.module_id == module_id, course_visible_to(link.course_id, user_id))
