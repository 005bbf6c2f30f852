"""Response bodies of the feed."""

from tma.core.schemas import ReadModel, example
from tma.posts.models import PostType


class FeedItem(ReadModel):
    """One post to do next, with where it sits and which of the caller's children it fits."""

    model_config = example(
        post_id=12,
        title="Peekaboo and object permanence",
        post_type="default",
        module_id=5,
        module_title="The first year",
        course_id=2,
        course_title="Play every day",
        child_ids=[4],
    )

    post_id: int
    title: str
    post_type: PostType
    module_id: int
    module_title: str
    course_id: int
    course_title: str
    child_ids: list[int]
