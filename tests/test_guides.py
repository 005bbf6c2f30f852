"""The guides run: every code block of docs/adding-an-endpoint.md that names its file is
that file's code, so the guide shows a real, tested endpoint (PATCH /api/courses/{id} and
its tests) and cannot drift from it; and every table is registered in `tma.models`, as
its "A new table" section says."""

import importlib
import pkgutil
import re
from pathlib import Path

import tma
import tma.models
from tma.core.db import Base

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "adding-an-endpoint.md"
# "From `path`" then, after any text, the next python block.
_BLOCK = re.compile(r"From\s+`((?:src|tests)/[\w/.]+\.py)`.*?```python\n(.*?)```", re.S)


def _blocks() -> list[tuple[str, str]]:
    return [(path, code) for path, code in _BLOCK.findall(GUIDE.read_text(encoding="utf-8"))]


def test_adding_an_endpoint_code_blocks_are_the_files_code() -> None:
    """Each `From <file>` block of the guide appears, line for line, in that file (the
    example endpoint's schema, service, dependency, router and test; a list endpoint; the
    naming convention;
    the upsert): a change of the code without the guide fails here."""
    blocks = _blocks()
    assert [path for path, _ in blocks] == [
        "src/tma/courses/schemas.py",
        "src/tma/courses/service.py",
        "src/tma/courses/dependencies.py",
        "src/tma/courses/router.py",
        "tests/test_courses.py",
        "src/tma/courses/service.py",
        "src/tma/courses/router.py",
        "src/tma/core/db.py",
        "src/tma/notifications/service.py",
    ]
    missing = [path for path, code in blocks if code not in (ROOT / path).read_text("utf-8")]
    assert missing == []


def test_every_model_is_registered_in_tma_models() -> None:
    """Every mapped class of every `tma.<domain>.models` module is imported and listed in
    `src/tma/models.py`, which Alembic and the tests read the tables from."""
    for module in pkgutil.iter_modules(tma.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"tma.{module.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"tma.{module.name}.models":
                    raise
    mapped = sorted(m.class_.__name__ for m in Base.registry.mappers)
    # 16, the three of notifications (issue 24), IdempotencyKey and SyncedEvent (issue 22),
    # Child (issue 25), the five of learning events, webhooks and xAPI (issue 26),
    # Translation (issue 25), ContentVersion (issue 22's version tags), QuizAnswer (the
    # dashboard's answer rows, 0017)
    assert len(mapped) == 30
    assert [name for name in mapped if name not in tma.models.__all__] == []
    assert set(Base.metadata.tables) == {
        m.class_.__table__.name
        for m in Base.registry.mappers  # type: ignore[attr-defined]
    }
