"""The bundle: a whole course in one response, for reading offline."""

from datetime import datetime

from tma.core.schemas import ReadModel, example
from tma.courses.schemas import CourseDetail
from tma.modules.schemas import ModuleRead
from tma.posts.schemas import POST_EXAMPLE, PostRead, ProgressRead, QuizRead


class BundlePost(PostRead):
    """Post detail as a `user` reads it: the caller's `progress`, the `quiz` without answers
    (for staff too: the bundle is what a phone keeps), the signed `file_url`."""

    progress: ProgressRead
    quiz: QuizRead | None


class BundleModule(ModuleRead):
    """Module detail with its posts as Post detail (`posts: []` for a module the caller
    cannot open yet)."""

    module_id: int
    module_title: str
    module_description: str | None
    module_color: str | None
    posts: list[BundlePost]
    course_ids: list[int]


class Bundle(ReadModel):
    model_config = example(
        course={
            "id": 3,
            "title": "Thinking Three Moves Ahead",
            "description": "Checks, captures and threats before every move",
            "created_at": "2026-09-01T09:30:00Z",
            "updated_at": "2026-09-01T09:30:00Z",
            "module_count": 1,
            "sequential": False,
            "modules": [],
        },
        modules=[
            {
                "id": 5,
                "title": "Checks first",
                "description": None,
                "color": None,
                "min_age_months": None,
                "max_age_months": None,
                "post_count": 1,
                "created_at": "2026-09-01T09:30:00Z",
                "updated_at": "2026-09-01T09:30:00Z",
                "module_id": 5,
                "module_title": "Checks first",
                "module_description": None,
                "module_color": None,
                "posts": [
                    {
                        **POST_EXAMPLE,
                        "progress": {
                            "post_id": 12,
                            "status": "not_started",
                            "updated_at": None,
                            "started_at": None,
                            "completed_at": None,
                        },
                        "quiz": None,
                    }
                ],
                "course_ids": [3],
            }
        ],
        generated_at="2026-09-01T09:30:00Z",
    )

    course: CourseDetail
    modules: list[BundleModule]
    # Last: the tag covers everything before it (tma.bundle.router).
    generated_at: datetime
