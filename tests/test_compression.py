"""Responses over 1 KiB are gzip-compressed for clients that accept it (companion spec §1;
Starlette's GZipMiddleware, entered by tma.core.compression only for those clients)."""

import pytest


@pytest.mark.asyncio
async def test_large_response_is_gzipped_when_accepted(client, auth_headers, make_course):
    """A body over 1 KiB with `Accept-Encoding: gzip`: `Content-Encoding: gzip`, `Vary:
    Accept-Encoding`, and the bytes decompress to the same JSON as the plain answer."""
    for n in range(3):
        await make_course(title=f"Course {n}", description="x" * 1000)
    headers = {**auth_headers, "Accept-Encoding": "gzip"}

    response = await client.get("/api/courses", headers=headers)
    plain = await client.get(
        "/api/courses", headers={**auth_headers, "Accept-Encoding": "identity"}
    )

    assert response.status_code == plain.status_code == 200
    assert response.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in response.headers["vary"].lower()
    assert "content-encoding" not in plain.headers
    assert len(plain.content) > 1024
    assert int(response.headers["content-length"]) < len(plain.content)
    assert response.json() == plain.json()


@pytest.mark.asyncio
async def test_small_response_is_not_compressed(client, auth_headers):
    """A body of 1 KiB or less goes as it is, even when gzip is accepted."""
    response = await client.get("/api/courses", headers={**auth_headers, "Accept-Encoding": "gzip"})

    assert response.status_code == 200
    assert len(response.content) <= 1024
    assert "content-encoding" not in response.headers


@pytest.mark.asyncio
async def test_large_response_to_a_client_without_gzip_is_plain_and_varies(
    client, auth_headers, make_course
):
    """A body over 1 KiB to a client that asks for no gzip: the plain bytes, and `Vary:
    Accept-Encoding`, as Starlette's middleware would send (beside the translated read's
    `Accept-Language`, docs/contracts/translations.md)."""
    for n in range(3):
        await make_course(title=f"Course {n}", description="x" * 1000)

    for accepted in ("identity", "deflate, br"):
        headers = {**auth_headers, "Accept-Encoding": accepted}
        response = await client.get("/api/courses", headers=headers)

        assert response.status_code == 200
        assert "content-encoding" not in response.headers
        # Accept-Language: a translated read; Origin: the CORS layer
        assert _vary(response) == ["Accept-Language", "Accept-Encoding", "Origin"]
        assert int(response.headers["content-length"]) == len(response.content) > 1024


@pytest.mark.asyncio
async def test_small_response_to_a_client_without_gzip_names_no_vary(client, auth_headers):
    """A body of 1 KiB or less could never be compressed: no `Vary: Accept-Encoding`."""
    response = await client.get(
        "/api/courses", headers={**auth_headers, "Accept-Encoding": "identity"}
    )

    assert response.status_code == 200
    assert len(response.content) <= 1024
    # the translated read's and the CORS layer's, not compression's
    assert _vary(response) == ["Accept-Language", "Origin"]


def _vary(response) -> list[str]:
    return [name.strip() for name in response.headers.get("vary", "").split(",") if name]
