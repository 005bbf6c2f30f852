"""Languages: translations of course, module, post and quiz texts (PUT/DELETE/GET under
/api/translations), the reader's language (Accept-Language, else the user's `language`,
else TMA_DEFAULT_LANGUAGE), per-field fallback, Content-Language and Vary, hidden answers
and grading unchanged in every language.

Contract: docs/contracts/translations.md (and the "Languages" notes of courses.md,
modules.md, posts.md, quizzes.md, auth.md).
"""

import pytest

from expected import UTC_TIMESTAMP
from tma.core.languages import wanted
from tma.notifications.messages import CATALOGS

ONE_MIB = 1_048_576
OVERSIZED_BODY = b'{"title": "' + b"x" * ONE_MIB + b'"}'
TOO_BIG_ID = 2**63


def path(kind, object_id, language=None):
    base = f"/api/translations/{kind}/{object_id}"
    return base if language is None else f"{base}/{language}"


async def put(client, headers, kind, object_id, language, body, status=200):
    response = await client.put(path(kind, object_id, language), json=body, headers=headers)
    assert response.status_code == status, response.text
    return response.json()


async def staff_quiz(client, auth_headers, post_id):
    response = await client.get(f"/api/quizzes/{post_id}", headers=auth_headers)
    assert response.status_code == 200
    return response.json()


async def listed(client, auth_headers, kind, object_id):
    response = await client.get(path(kind, object_id), headers=auth_headers)
    assert response.status_code == 200
    return [(t["language"], t["fields"]) for t in response.json()]


def spanish_quiz(quiz):
    """The Spanish texts of the default quiz, every question, option and explanation."""
    return {
        "questions": [
            {
                "id": q["id"],
                "prompt": f"ES {q['prompt']}",
                "explanation": f"ES {q['explanation']}",
                "options": [{"id": o["id"], "text": f"ES {o['text']}"} for o in q["options"]],
            }
            for q in quiz["questions"]
        ]
    }


# --- PUT /api/translations/{kind}/{object_id}/{language} -----------------------------------


@pytest.mark.asyncio
async def test_put_translation_stores_and_replaces_it(client, auth_headers, make_course):
    """PUT stores the fields (200, the stored translation), the tag spelled canonically; a
    second PUT replaces the fields whole, created_at kept."""
    course = await make_course(title="Openings", description="How to start")

    first = await put(client, auth_headers, "course", course.id, "es-mx", {"title": "Aperturas"})

    assert first == {
        "kind": "course",
        "id": course.id,
        "language": "es-MX",
        "fields": {"title": "Aperturas"},
        "created_at": UTC_TIMESTAMP,
        "updated_at": UTC_TIMESTAMP,
    }
    second = await put(
        client, auth_headers, "course", course.id, "es-MX", {"description": "Cómo empezar"}
    )
    assert second["fields"] == {"description": "Cómo empezar"}
    assert second["created_at"] == first["created_at"]
    assert await listed(client, auth_headers, "course", course.id) == [
        ("es-MX", {"description": "Cómo empezar"})
    ]


@pytest.mark.asyncio
async def test_put_translation_of_module_and_post(client, auth_headers, make_module, make_post):
    """A module takes title and description; a post title and content."""
    module = await make_module(title="Checks")
    post = await make_post(module, title="Why")

    stored = await put(
        client, auth_headers, "module", module.id, "es", {"title": "Jaques", "description": "D"}
    )
    post_stored = await put(
        client, auth_headers, "post", post.id, "es", {"title": "Por qué", "content": "Texto"}
    )

    assert stored["fields"] == {"title": "Jaques", "description": "D"}
    assert post_stored["fields"] == {"title": "Por qué", "content": "Texto"}


@pytest.mark.asyncio
async def test_put_translation_unknown_kind_or_id_returns_404(client, auth_headers, make_course):
    """An unknown kind or an id that names nothing: 404, nothing stored."""
    course = await make_course()

    unknown_kind = await client.put(
        path("lesson", course.id, "es"), json={"title": "X"}, headers=auth_headers
    )
    unknown_id = await client.put(
        path("course", 909090, "es"), json={"title": "X"}, headers=auth_headers
    )

    assert unknown_kind.status_code == 404
    assert "not found" in unknown_kind.json()["detail"]
    assert unknown_id.status_code == 404
    assert unknown_id.json() == {"detail": "Course 909090 not found"}
    assert await listed(client, auth_headers, "course", course.id) == []


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("language", "body", "loc"),
    [
        ("xx", {"title": "X"}, ["path", "language"]),
        ("not a tag", {"title": "X"}, ["path", "language"]),
        ("es_ES", {"title": "X"}, ["path", "language"]),
        ("es", {}, ["body"]),
        ("es", {"content": "Texto"}, ["body", "content"]),
        ("es", {"title": ""}, ["body", "title"]),
        ("es", {"title": None}, ["body"]),
        ("es", {"title": "X", "color": "#FFFFFF"}, ["body", "color"]),
    ],
    ids=[
        "unknown-language",
        "garbage-tag",
        "underscore-tag",
        "empty-body",
        "field-the-kind-lacks",
        "empty-title",
        "null-title",
        "unknown-field",
    ],
)
async def test_put_translation_malformed_returns_422(
    client, auth_headers, make_course, language, body, loc
):
    """A tag that is no known BCP 47 language, an empty body, a field the kind does not
    translate or is out of shape: 422 naming it; nothing stored."""
    course = await make_course()

    response = await client.put(
        path("course", course.id, language), json=body, headers=auth_headers
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][: len(loc)] == loc
    assert await listed(client, auth_headers, "course", course.id) == []


@pytest.mark.asyncio
async def test_put_translation_bad_object_id_returns_422(client, auth_headers):
    """An object id that is not a positive 64-bit integer: 422."""
    for bad in ("abc", "0", str(TOO_BIG_ID)):
        response = await client.put(
            f"/api/translations/course/{bad}/es", json={"title": "X"}, headers=auth_headers
        )
        assert response.status_code == 422


@pytest.mark.asyncio
async def test_put_translation_quiz_ids_must_be_the_quiz_s(
    client, auth_headers, make_module, make_quiz_post, make_post
):
    """The quiz part names only that quiz's questions and their options (422 for another
    quiz's question, an option of another question, a question twice, a non-quiz post)."""
    module = await make_module()
    mine = await make_quiz_post(module)
    other = await make_quiz_post(module)
    text = await make_post(module)
    quiz = await staff_quiz(client, auth_headers, mine.id)
    theirs = await staff_quiz(client, auth_headers, other.id)
    q1, q2 = quiz["questions"]
    cases = [
        (mine.id, {"questions": [{"id": theirs["questions"][0]["id"], "prompt": "X"}]}),
        (
            mine.id,
            {
                "questions": [
                    {"id": q1["id"], "options": [{"id": q2["options"][0]["id"], "text": "X"}]}
                ]
            },
        ),
        (mine.id, {"questions": [{"id": q1["id"]}, {"id": q1["id"]}]}),
        (text.id, {"questions": [{"id": q1["id"], "prompt": "X"}]}),
    ]

    for post_id, bad in cases:
        response = await client.put(
            path("post", post_id, "es"), json={"quiz": bad}, headers=auth_headers
        )
        assert response.status_code == 422, bad
        assert response.json()["detail"][0]["loc"][:2] == ["body", "quiz"]

    assert await listed(client, auth_headers, "post", mine.id) == []
    good = await put(client, auth_headers, "post", mine.id, "es", {"quiz": spanish_quiz(quiz)})
    assert good["fields"]["quiz"]["questions"][0]["prompt"] == f"ES {q1['prompt']}"


@pytest.mark.asyncio
async def test_put_translation_needs_admin(
    client, manager_headers, user_headers, make_course, auth_headers
):
    """Managers and users: 403; no token: 401; nothing stored."""
    course = await make_course()

    as_manager = await client.put(
        path("course", course.id, "es"), json={"title": "X"}, headers=manager_headers
    )
    as_user = await client.put(
        path("course", course.id, "es"), json={"title": "X"}, headers=user_headers
    )
    anonymous = await client.put(path("course", course.id, "es"), json={"title": "X"})

    assert as_manager.status_code == 403
    assert as_user.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert await listed(client, auth_headers, "course", course.id) == []


@pytest.mark.asyncio
async def test_translation_writes_ask_who_before_what(client, user_headers, make_course):
    """A write with a malformed language tag still answers 401 without a token and 403 to a
    user: who may ask is checked before what was asked (a 422 would tell a stranger which
    tags the server takes)."""
    course = await make_course()
    bad = path("course", course.id, "not a tag")

    anonymous_put = await client.put(bad, json={"title": "X"})
    anonymous_delete = await client.delete(bad)
    user_put = await client.put(bad, json={"title": "X"}, headers=user_headers)
    user_delete = await client.delete(bad, headers=user_headers)

    assert [anonymous_put.status_code, anonymous_delete.status_code] == [401, 401]
    assert [user_put.status_code, user_delete.status_code] == [403, 403]


@pytest.mark.asyncio
async def test_put_translation_body_over_1_mib_returns_413(client, auth_headers, make_course):
    """A body over 1 MiB is refused with 413 before anything reads it; nothing stored."""
    course = await make_course()

    response = await client.put(
        path("course", course.id, "es"),
        content=OVERSIZED_BODY,
        headers={**auth_headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert await listed(client, auth_headers, "course", course.id) == []


# --- DELETE /api/translations/{kind}/{object_id}/{language} --------------------------------


@pytest.mark.asyncio
async def test_delete_translation_removes_it(client, auth_headers, make_course):
    """204; the read is in the default text again; a second DELETE: 404."""
    course = await make_course(title="Openings")
    await put(client, auth_headers, "course", course.id, "es", {"title": "Aperturas"})
    await put(client, auth_headers, "course", course.id, "fr", {"title": "Ouvertures"})

    response = await client.delete(path("course", course.id, "es"), headers=auth_headers)
    again = await client.delete(path("course", course.id, "es"), headers=auth_headers)

    assert response.status_code == 204
    assert again.status_code == 404
    assert await listed(client, auth_headers, "course", course.id) == [
        ("fr", {"title": "Ouvertures"})
    ]
    read = await client.get(
        f"/api/courses/{course.id}", headers={**auth_headers, "Accept-Language": "es"}
    )
    assert read.status_code == 200
    assert read.json()["title"] == "Openings"


@pytest.mark.asyncio
async def test_delete_translation_errors(client, auth_headers, manager_headers, make_course):
    """Unknown kind or id: 404; a bad tag: 422; a manager: 403; no token: 401."""
    course = await make_course()
    await put(client, auth_headers, "course", course.id, "es", {"title": "X"})

    assert (
        await client.delete(path("lesson", course.id, "es"), headers=auth_headers)
    ).status_code == 404
    assert (
        await client.delete(path("course", 909090, "es"), headers=auth_headers)
    ).status_code == 404
    assert (
        await client.delete(path("course", course.id, "xx"), headers=auth_headers)
    ).status_code == 422
    assert (
        await client.delete(path("course", course.id, "es"), headers=manager_headers)
    ).status_code == 403
    assert (await client.delete(path("course", course.id, "es"))).status_code == 401
    assert await listed(client, auth_headers, "course", course.id) == [("es", {"title": "X"})]


@pytest.mark.asyncio
async def test_translations_go_with_their_object(client, auth_headers, make_course):
    """Deleting the course deletes its translations (a new course never inherits them)."""
    course = await make_course()
    await put(client, auth_headers, "course", course.id, "es", {"title": "X"})

    deleted = await client.delete(f"/api/courses/{course.id}", headers=auth_headers)

    assert deleted.status_code == 204
    gone = await client.get(path("course", course.id), headers=auth_headers)
    assert gone.status_code == 404


# --- GET /api/translations/{kind}/{object_id} ---------------------------------------------


@pytest.mark.asyncio
async def test_list_translations_by_language_with_total(client, auth_headers, make_module):
    """The object's translations in language order, X-Total-Count, limit/offset."""
    module = await make_module()
    for language in ("fr", "de", "es"):
        await put(client, auth_headers, "module", module.id, language, {"title": language})

    response = await client.get(
        path("module", module.id), params={"limit": 2}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "3"
    assert [t["language"] for t in response.json()] == ["de", "es"]
    assert response.json()[0] == {
        "kind": "module",
        "id": module.id,
        "language": "de",
        "fields": {"title": "de"},
        "created_at": UTC_TIMESTAMP,
        "updated_at": UTC_TIMESTAMP,
    }


@pytest.mark.asyncio
async def test_list_translations_errors(client, auth_headers, user_headers, make_course):
    """Unknown kind or id: 404; a bad id or query parameter: 422; a user: 403; none: 401."""
    course = await make_course()

    assert (await client.get(path("lesson", course.id), headers=auth_headers)).status_code == 404
    assert (await client.get(path("post", 909090), headers=auth_headers)).status_code == 404
    assert (await client.get(path("course", "abc"), headers=auth_headers)).status_code == 422
    bad_query = await client.get(
        path("course", course.id), params={"sort": "x"}, headers=auth_headers
    )
    assert bad_query.status_code == 422
    assert (await client.get(path("course", course.id), headers=user_headers)).status_code == 403
    assert (await client.get(path("course", course.id))).status_code == 401


# --- negotiation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "user_language", "expected"),
    [
        ("es", None, ("es",)),
        ("es-MX", None, ("es-MX", "es")),
        ("es;q=0, *", None, ()),
        ("es;q=0", "es", ()),
        ("*", None, ()),
        ("xx", None, ()),
        ("xx", "es", ("es",)),
        ("fr;q=0.5, es;q=0.9", None, ("es", "fr")),
        ("en, es", None, ()),
        ("de;q=0.2, es-419", None, ("es-419", "es", "de")),
        ("garbage;;;q=x,,", None, ()),
        ("es;q=abc", None, ()),
        (None, "es-MX", ("es-MX", "es")),
        (None, None, ()),
        ("a" * 500, None, ()),
    ],
)
def test_wanted_languages(header, user_language, expected):
    """The translations a read looks for, best first, ending before the default `en`."""
    assert wanted(header, user_language, "en") == expected


async def translated_course(client, auth_headers, make_course, make_module):
    course = await make_course(title="Openings", description="How to start")
    module = await make_module(title="Checks", course=course)
    await put(client, auth_headers, "course", course.id, "es", {"title": "Aperturas"})
    await put(client, auth_headers, "course", course.id, "fr", {"title": "Ouvertures"})
    await put(client, auth_headers, "module", module.id, "es", {"title": "Jaques"})
    return course


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("header", "title", "language"),
    [
        ("es", "Aperturas", "es"),
        ("es-MX", "Aperturas", "es"),
        ("es-MX,es;q=0.8,en;q=0.5", "Aperturas", "es"),
        ("es;q=0, *", "Openings", "en"),
        ("*", "Openings", "en"),
        ("zu", "Openings", "en"),
        ("xx-unknown", "Openings", "en"),
        ("de, es;q=0.4, fr;q=0.9", "Ouvertures", "fr"),
        ("fr;q=0.1, es;q=0.9", "Aperturas", "es"),
        ("en, es;q=0.9", "Openings", "en"),
        (";;;q=,,,==", "Openings", "en"),
        ("es;q=2", "Openings", "en"),
    ],
    ids=[
        "es",
        "region-falls-back",
        "several",
        "q0-refuses",
        "any",
        "no-translation",
        "unknown-language",
        "q-values-order",
        "q-values-order-2",
        "default-first",
        "malformed",
        "q-out-of-range",
    ],
)
async def test_course_detail_in_the_negotiated_language(
    client, auth_headers, make_course, make_module, header, title, language
):
    """Accept-Language picks the translation (q-values, q=0 refuses, `*`, region falls
    back to its language, an unknown or malformed header is the default, never a 500);
    Content-Language says which; Vary names Accept-Language."""
    course = await translated_course(client, auth_headers, make_course, make_module)

    response = await client.get(
        f"/api/courses/{course.id}", headers={**auth_headers, "Accept-Language": header}
    )

    assert response.status_code == 200
    assert response.json()["title"] == title
    assert response.headers["Content-Language"] == language
    assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.asyncio
async def test_course_detail_per_field_fallback_and_modules(
    client, auth_headers, make_course, make_module
):
    """A field the translation lacks reads as the default text; the outline's modules are
    translated too; an untranslated module keeps its text."""
    course = await translated_course(client, auth_headers, make_course, make_module)
    await make_module(title="Pins", course=course)

    response = await client.get(
        f"/api/courses/{course.id}", headers={**auth_headers, "Accept-Language": "es"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["description"]) == ("Aperturas", "How to start")
    assert [m["module_title"] for m in body["modules"]] == ["Jaques", "Pins"]


@pytest.mark.asyncio
async def test_reads_without_header_use_the_user_language_then_the_default(
    client, auth_headers, user_headers, user_course, make_module
):
    """No Accept-Language: the user's `language`; a header still wins; a user without a
    language reads the default, with Content-Language en."""
    module = await make_module(title="Checks", course=user_course)
    await put(client, auth_headers, "course", user_course.id, "es", {"title": "Curso"})
    await put(client, auth_headers, "module", module.id, "es", {"title": "Jaques"})
    default = await client.get(f"/api/courses/{user_course.id}", headers=user_headers)
    assert default.status_code == 200
    assert default.headers["Content-Language"] == "en"

    patched = await client.patch("/api/auth/me", json={"language": "es-mx"}, headers=user_headers)
    assert patched.status_code == 200
    assert patched.json()["language"] == "es-MX"
    by_user = await client.get(f"/api/courses/{user_course.id}", headers=user_headers)
    header_wins = await client.get(
        f"/api/courses/{user_course.id}", headers={**user_headers, "Accept-Language": "en"}
    )

    assert by_user.status_code == 200
    assert (by_user.json()["title"], by_user.headers["Content-Language"]) == ("Curso", "es")
    assert header_wins.json()["title"] == user_course.title
    modules = await client.get(f"/api/courses/{user_course.id}/modules", headers=user_headers)
    assert modules.status_code == 200
    assert [m["module_title"] for m in modules.json()] == ["Jaques"]
    assert modules.headers["Content-Language"] == "es"
    courses = await client.get("/api/courses", headers=user_headers)
    assert courses.status_code == 200
    assert [c["title"] for c in courses.json()] == ["Curso"]


@pytest.mark.asyncio
async def test_patch_me_language(client, user_headers):
    """`language` is a BCP 47 tag CLDR knows (canonical spelling), "" or null clears it,
    anything else is 422; GET /api/auth/me returns it."""
    bad = await client.patch("/api/auth/me", json={"language": "klingon-xx"}, headers=user_headers)
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"][:2] == ["body", "language"]

    set_ = await client.patch("/api/auth/me", json={"language": "pt-br"}, headers=user_headers)
    me = await client.get("/api/auth/me", headers=user_headers)
    assert set_.status_code == 200
    assert me.status_code == 200
    assert me.json()["language"] == "pt-BR"

    cleared = await client.patch("/api/auth/me", json={"language": ""}, headers=user_headers)
    assert cleared.status_code == 200
    assert cleared.json()["language"] is None


@pytest.mark.asyncio
async def test_module_post_and_feed_reads_are_translated(
    client, auth_headers, user_headers, user_course, make_module, make_post
):
    """Module detail (module and its posts), the post list and detail, and the feed's
    titles read in Spanish; each says Content-Language es."""
    module = await make_module(title="Checks", description="Look", course=user_course)
    post = await make_post(module, title="Why", content="Because")
    await put(client, auth_headers, "module", module.id, "es", {"title": "Jaques"})
    await put(client, auth_headers, "post", post.id, "es", {"title": "Por qué"})
    await put(client, auth_headers, "course", user_course.id, "es", {"title": "Curso"})
    es = {**user_headers, "Accept-Language": "es"}

    detail = await client.get(f"/api/modules/{module.id}", headers=es)
    posts = await client.get("/api/posts", params={"module_id": module.id}, headers=es)
    one = await client.get(f"/api/posts/{post.id}", headers=es)
    feed = await client.get("/api/feed", headers=es)
    modules = await client.get("/api/modules", headers=es)

    assert detail.status_code == posts.status_code == one.status_code == feed.status_code == 200
    assert modules.status_code == 200
    body = detail.json()
    assert (body["title"], body["module_title"], body["description"]) == (
        "Jaques",
        "Jaques",
        "Look",
    )
    assert [(p["title"], p["content"]) for p in body["posts"]] == [("Por qué", "Because")]
    assert [p["title"] for p in posts.json()] == ["Por qué"]
    assert (one.json()["title"], one.json()["content"]) == ("Por qué", "Because")
    assert [(i["title"], i["module_title"], i["course_title"]) for i in feed.json()] == [
        ("Por qué", "Jaques", "Curso")
    ]
    assert [m["title"] for m in modules.json()] == ["Jaques"]
    for response in (detail, posts, one, feed, modules):
        assert response.headers["Content-Language"] == "es"
        assert "Accept-Language" in response.headers["Vary"]


@pytest.mark.asyncio
async def test_translated_reads_get_their_own_etag(client, auth_headers, make_course):
    """The ETag is of the body in its language: the Spanish and the English reads differ,
    and each revalidates to 304 in its own language."""
    course = await make_course(title="Openings")
    await put(client, auth_headers, "course", course.id, "es", {"title": "Aperturas"})
    es = {**auth_headers, "Accept-Language": "es"}

    english = await client.get(f"/api/courses/{course.id}", headers=auth_headers)
    spanish = await client.get(f"/api/courses/{course.id}", headers=es)
    again = await client.get(
        f"/api/courses/{course.id}", headers={**es, "If-None-Match": spanish.headers["ETag"]}
    )
    other = await client.get(
        f"/api/courses/{course.id}",
        headers={**auth_headers, "If-None-Match": spanish.headers["ETag"]},
    )

    assert english.status_code == spanish.status_code == other.status_code == 200
    assert english.headers["ETag"] != spanish.headers["ETag"]
    assert again.status_code == 304


# --- quizzes in every language -------------------------------------------------------------


@pytest.mark.asyncio
async def test_translated_quiz_keeps_answers_hidden(
    client, auth_headers, user_headers, user_course, make_module, make_quiz_post
):
    """A user's quiz read in Spanish has the Spanish prompts and option texts, and still no
    `is_correct`, no `correct_option_ids`, explanations null (the translation holds them);
    staff read the Spanish explanations with the answers. The same in post detail and the
    bundle."""
    module = await make_module(course=user_course)
    post = await make_quiz_post(module)
    quiz = await staff_quiz(client, auth_headers, post.id)
    await put(client, auth_headers, "post", post.id, "es", {"quiz": spanish_quiz(quiz)})
    es_user = {**user_headers, "Accept-Language": "es"}

    read = await client.get(f"/api/quizzes/{post.id}", headers=es_user)
    detail = await client.get(f"/api/posts/{post.id}", headers=es_user)
    bundle = await client.get(f"/api/courses/{user_course.id}/bundle", headers=es_user)
    staff = await client.get(
        f"/api/quizzes/{post.id}", headers={**auth_headers, "Accept-Language": "es"}
    )

    assert read.status_code == detail.status_code == bundle.status_code == staff.status_code == 200
    assert read.headers["Content-Language"] == "es"
    user_quizzes = [
        read.json(),
        detail.json()["quiz"],
        bundle.json()["modules"][0]["posts"][0]["quiz"],
    ]
    for user_quiz in user_quizzes:
        for question, original in zip(user_quiz["questions"], quiz["questions"], strict=True):
            assert set(question) == {"id", "prompt", "kind", "explanation", "options"}
            assert question["prompt"] == f"ES {original['prompt']}"
            assert question["explanation"] is None
            assert question["options"] == [
                {"id": o["id"], "text": f"ES {o['text']}"} for o in original["options"]
            ]
    staff_body = staff.json()
    assert [q["explanation"] for q in staff_body["questions"]] == [
        f"ES {q['explanation']}" for q in quiz["questions"]
    ]
    assert [q["correct_option_ids"] for q in staff_body["questions"]] == [
        q["correct_option_ids"] for q in quiz["questions"]
    ]


@pytest.mark.asyncio
async def test_translated_quiz_is_graded_the_same(
    client, auth_headers, user_headers, user_course, make_module, make_quiz_post
):
    """An attempt started in Spanish shows the Spanish texts and is graded by option ids:
    the same score as the same answers in English; the results' explanations appear in
    Spanish only where the reveal rule shows them."""
    module = await make_module(course=user_course)
    post = await make_quiz_post(module)
    quiz = await staff_quiz(client, auth_headers, post.id)
    await put(client, auth_headers, "post", post.id, "es", {"quiz": spanish_quiz(quiz)})
    es_user = {**user_headers, "Accept-Language": "es"}
    answers = [
        {"question_id": q["id"], "option_ids": q["correct_option_ids"]} for q in quiz["questions"]
    ]

    started = await client.post(f"/api/quizzes/{post.id}/attempts", headers=es_user)
    assert started.status_code == 201
    assert [q["prompt"] for q in started.json()["questions"]] == [
        f"ES {q['prompt']}" for q in quiz["questions"]
    ]
    submitted = await client.post(
        f"/api/quiz-attempts/{started.json()['id']}/submit",
        json={"answers": answers},
        headers=es_user,
    )
    assert submitted.status_code == 200
    read = await client.get(f"/api/quiz-attempts/{started.json()['id']}", headers=es_user)
    english = await client.get(f"/api/quiz-attempts/{started.json()['id']}", headers=user_headers)

    assert read.status_code == english.status_code == 200
    assert (read.json()["score"], read.json()["passed"]) == (100, True)
    assert (english.json()["score"], english.json()["passed"]) == (100, True)
    assert [r["explanation"] for r in read.json()["results"]] == [
        f"ES {q['explanation']}" for q in quiz["questions"]
    ]
    assert [r["explanation"] for r in english.json()["results"]] == [
        q["explanation"] for q in quiz["questions"]
    ]
    listed_attempts = await client.get(f"/api/quizzes/{post.id}/attempts", headers=es_user)
    assert listed_attempts.status_code == 200
    assert listed_attempts.json()[0]["questions"][0]["prompt"].startswith("ES ")


# --- notifications' catalogs ---------------------------------------------------------------


def test_every_catalog_has_the_english_keys_and_names():
    """Each language's catalog holds every English key, with the same `{names}`."""
    import string

    def names(text):
        return {name for _, name, _, _ in string.Formatter().parse(text) if name}

    english = CATALOGS["en"]
    assert "es" in CATALOGS
    for language, catalog in CATALOGS.items():
        assert set(catalog) == set(english), language
        for key, text in catalog.items():
            assert names(text) == names(english[key]), (language, key)
