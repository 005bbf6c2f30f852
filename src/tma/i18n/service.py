"""Translations: the one write (`write_translation`), their list, and the overlay of the
translated reads (`Translator`). Raises domain errors; owns its commits."""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import String, bindparam, case, delete, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from tma.core.db import ID, upsert
from tma.core.errors import InvalidInput, NotFound
from tma.core.languages import MAX_WANTED
from tma.core.pagination import ListQuery, Page
from tma.core.reads import first, rows
from tma.courses.models import Course, Module
from tma.i18n.models import KINDS, Translation
from tma.posts.models import Post
from tma.quizzes.models import QuizOption, QuizQuestion

T = Translation
_TABLES: dict[str, Any] = {"course": Course, "module": Module, "post": Post}
_COLUMNS: dict[str, Any] = {"course": T.course_id, "module": T.module_id, "post": T.post_id}
# The fields each kind translates (the rest of the PUT body's fields are a 422 for it).
FIELDS: dict[str, tuple[str, ...]] = {
    "course": ("title", "description"),
    "module": ("title", "description"),
    "post": ("title", "content", "quiz"),
}

# Run inside every translation write's transaction, before it commits (a PUT or a DELETE):
# where "this content changed" is told to whoever keeps versions of the reads (ETags).
ChangeHook = Callable[..., Awaitable[None]]
_CHANGE_HOOKS: list[ChangeHook] = []


def on_translation_written(hook: ChangeHook) -> ChangeHook:
    """Register `hook(session, *, kind, object_id, language)` to run in every translation
    write's transaction (`write_translation`), before it commits."""
    _CHANGE_HOOKS.append(hook)
    return hook


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise NotFound(f"Kind {kind!r} not found: translations are of a course, module or post")
    return kind


async def _object(session: AsyncSession, kind: str, object_id: int) -> Any:
    table = _TABLES[kind]
    columns = [table.id, *([table.post_type] if kind == "post" else [])]
    found = await first(session, select(*columns).where(table.id == object_id))
    if found is None:
        raise NotFound(f"{kind.capitalize()} {object_id} not found")
    return found


def _invalid(loc: list[str | int], message: str) -> InvalidInput:
    return InvalidInput(message, loc=["body", *loc])


async def _check_quiz(session: AsyncSession, post: Any, quiz: Mapping[str, Any]) -> None:
    """The quiz part of a post's translation names only that quiz's questions and each
    question's options, each once (422 otherwise)."""
    if post["post_type"] != "quiz":
        raise _invalid(["quiz"], f"Post {post['id']} is not a quiz")
    owned: dict[int, set[int]] = {}
    statement = (
        select(QuizQuestion.id, QuizOption.id.label("option_id"))
        .outerjoin(QuizOption, QuizOption.question_id == QuizQuestion.id)
        .where(QuizQuestion.post_id == post["id"])
    )
    for row in await rows(session, statement):
        options = owned.setdefault(row["id"], set())
        if row["option_id"] is not None:
            options.add(row["option_id"])
    seen: set[int] = set()
    for i, question in enumerate(quiz["questions"]):
        where: list[str | int] = ["quiz", "questions", i, "id"]
        if question["id"] not in owned:
            raise _invalid(where, f"Question {question['id']} is not in this quiz")
        if question["id"] in seen:
            raise _invalid(where, f"Question {question['id']} is given twice")
        seen.add(question["id"])
        ids = [option["id"] for option in question.get("options", [])]
        for j, option_id in enumerate(ids):
            if option_id not in owned[question["id"]] or option_id in ids[:j]:
                raise _invalid(
                    ["quiz", "questions", i, "options", j, "id"],
                    f"Option {option_id} is not an option of question {question['id']}"
                    if option_id not in owned[question["id"]]
                    else f"Option {option_id} is given twice",
                )


_READ = select(T.language, T.fields, T.created_at, T.updated_at)


async def write_translation(
    session: AsyncSession,
    *,
    kind: str,
    object_id: int,
    language: str,
    fields: dict[str, Any] | None,
    now: datetime,
) -> dict[str, Any] | None:
    """THE write of translations: store `fields` as the object's translation into
    `language` (replacing any), or delete it (`fields` None; 404 when there is none).
    Every PUT and DELETE goes through here, and so through the change hooks. 404 for an
    unknown kind or object; 422 for a field the kind does not translate or quiz ids that
    are not the post's. Returns the stored translation (`TranslationRead`'s keys)."""
    column = _COLUMNS[_kind(kind)]
    target = await _object(session, kind, object_id)
    if fields is None:
        result = await session.execute(delete(T).where(column == object_id, T.language == language))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            await session.rollback()
            raise NotFound(
                f"{kind.capitalize()} {object_id} has no {language} translation: not found"
            )
    else:
        for name in fields:
            if name not in FIELDS[kind]:
                raise _invalid([name], f"A {kind} translation has no {name}")
        if "quiz" in fields:
            await _check_quiz(session, target, fields["quiz"])
        stmt = upsert(session, Translation).values(
            **{column.key: object_id},
            language=language,
            fields=fields,
            created_at=now,
            updated_at=now,
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[column.key, "language"],
            set_={"fields": stmt.excluded.fields, "updated_at": stmt.excluded.updated_at},
        )
        try:
            await session.execute(stmt)
        except IntegrityError:  # the object was deleted meanwhile
            await session.rollback()
            raise NotFound(f"{kind.capitalize()} {object_id} not found") from None
    for hook in _CHANGE_HOOKS:
        await hook(session, kind=kind, object_id=object_id, language=language)
    if fields is None:
        await session.commit()
        return None
    stored = await first(session, _READ.where(column == object_id, T.language == language))
    await session.commit()
    assert stored is not None  # written in this transaction
    return {"kind": kind, "id": object_id, **stored}


def _list(kind: str) -> ListQuery:  # pragma: no mutate block (built at import)
    column = _COLUMNS[kind]
    of_object = column == bindparam("object_id", type_=ID)
    return ListQuery(
        select(
            literal(kind, String).label("kind"),
            column.label("id"),
            T.language,
            T.fields,
            T.created_at,
            T.updated_at,
        )
        .where(of_object)
        .order_by(T.language),
        count=select(T.id).where(of_object),
    )


_LISTS = {kind: _list(kind) for kind in KINDS}


async def list_translations(
    session: AsyncSession, *, kind: str, object_id: int, page: Page
) -> tuple[list[dict[str, Any]], int]:
    """The object's translations by language; 404 for an unknown kind or object."""
    await _object(session, _kind(kind), object_id)
    return await _LISTS[kind].page(session, page, object_id=object_id)


# --- the translated reads -----------------------------------------------------------------

# A read looks for at most this many languages (tma.core.languages.wanted keeps the best
# ones): the bound parameters `language_0`... of a statement that joins its translations.
SLOTS = MAX_WANTED
LANGUAGE_SLOTS = tuple(bindparam(f"language_{i}", type_=String) for i in range(SLOTS))


def slot_params(languages: tuple[str, ...]) -> dict[str, str]:
    """The `language_<i>` parameters of `best_translation` (unused slots: "", no tag)."""
    return {f"language_{i}": languages[i] if i < len(languages) else "" for i in range(SLOTS)}


def best_translation(kind: str, ref: Any) -> Any:
    """The id of the translation of `ref` (the object's id column in the enclosing
    statement) in the best of the wanted languages it has (`LANGUAGE_SLOTS`), else null:
    for a LEFT JOIN of `translations` inside a read's own statement (no statement more)."""
    inner = aliased(Translation)
    rank = case(*((inner.language == slot, i) for i, slot in enumerate(LANGUAGE_SLOTS)))
    return (
        select(inner.id)
        .where(getattr(inner, f"{kind}_id") == ref, inner.language.in_(LANGUAGE_SLOTS))
        .order_by(rank)
        .limit(1)
        .scalar_subquery()
    )


_LOOKUP = select(T.course_id, T.module_id, T.post_id, T.language, T.fields).where(
    T.language.in_(bindparam("languages", expanding=True)),
    or_(
        T.course_id.in_(bindparam("course_ids", expanding=True)),
        T.module_id.in_(bindparam("module_ids", expanding=True)),
        T.post_id.in_(bindparam("post_ids", expanding=True)),
    ),
)


@dataclass
class Translator:
    """What one read asks translated: each object's body and which of its keys hold which
    translated field, then `apply`: one statement (none when the reader wants the default
    language), the response's language picked, the texts replaced in place.

    The response's language is the first of `languages` (best first) that some object of
    the read has a translation in; the default when none has. A field that translation
    does not give keeps the default text. A translation only replaces texts the read shows:
    a key the body does not hold, or an explanation it holds as null (hidden by the quiz's
    reveal rule), stays as it is."""

    languages: tuple[str, ...]
    default: str
    _targets: list[tuple[str, int, dict[str, Any], Mapping[str, str]]] = field(default_factory=list)
    _quizzes: list[tuple[int, dict[str, Any], str]] = field(default_factory=list)

    def add(self, kind: str, object_id: int, body: dict[str, Any], keys: Mapping[str, str]) -> None:
        """Translate `body[key]` by the object's field `keys[key]`' translation."""
        if self.languages:
            self._targets.append((kind, object_id, body, keys))

    def add_quiz(self, post_id: int, quiz: dict[str, Any], id_key: str = "id") -> None:
        """Translate a quiz body's `questions` (`prompt`, `explanation`; each named by
        `id_key`) and their `options` (`text`)."""
        if self.languages:
            self._quizzes.append((post_id, quiz, id_key))

    async def apply(
        self,
        session: AsyncSession,
        found: dict[tuple[str, int, str], dict[str, Any]] | None = None,
    ) -> str:
        """Look the translations up and write them in; the response's language. `found`:
        the translations the read's own statement joined (each object's in the best
        wanted language it has: `best_translation`), looked up no further."""
        if not self._targets and not self._quizzes:
            return self.default
        if found is not None:
            return self._write(found)
        ids: dict[str, set[int]] = {kind: set() for kind in KINDS}
        for kind, object_id, _, _ in self._targets:
            ids[kind].add(object_id)
        ids["post"].update(post_id for post_id, _, _ in self._quizzes)
        looked_up: dict[tuple[str, int, str], dict[str, Any]] = {}
        for row in await rows(
            session,
            _LOOKUP,
            languages=list(self.languages),
            course_ids=sorted(ids["course"]),
            module_ids=sorted(ids["module"]),
            post_ids=sorted(ids["post"]),
        ):
            kind = (
                "course"
                if row["course_id"] is not None
                else ("module" if row["module_id"] is not None else "post")
            )
            object_id = row["course_id"] or row["module_id"] or row["post_id"]
            looked_up[(kind, object_id, row["language"])] = row["fields"]
        return self._write(looked_up)

    def _write(self, found: dict[tuple[str, int, str], dict[str, Any]]) -> str:
        present = {language for _, _, language in found}
        language = next((lang for lang in self.languages if lang in present), None)
        if language is None:
            return self.default
        for kind, object_id, body, keys in self._targets:
            fields = found.get((kind, object_id, language))
            if fields:
                for key, name in keys.items():
                    if name in fields and key in body:
                        body[key] = fields[name]
        for post_id, quiz, id_key in self._quizzes:
            fields = found.get(("post", post_id, language))
            if fields and "quiz" in fields:
                translate_questions(quiz.get("questions") or [], fields["quiz"], id_key)
        return language


def translate_questions(
    questions: list[dict[str, Any]], quiz: Mapping[str, Any], id_key: str = "id"
) -> None:
    """Write a quiz translation's texts into question bodies (`id`, `prompt`,
    `explanation`, `options` of `id` and `text`), by id; an explanation the body holds as
    null stays null (hidden stays hidden), and nothing but texts is touched."""
    by_id = {question["id"]: question for question in quiz.get("questions", [])}
    for question in questions:
        given = by_id.get(question.get(id_key))
        if given is None:
            continue
        if given.get("prompt") is not None and "prompt" in question:
            question["prompt"] = given["prompt"]
        if given.get("explanation") is not None and question.get("explanation") is not None:
            question["explanation"] = given["explanation"]
        texts = {option["id"]: option["text"] for option in given.get("options", [])}
        for option in question.get("options", []):
            if option.get("id") in texts:
                option["text"] = texts[option["id"]]
