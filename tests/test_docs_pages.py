"""The interactive docs work offline: Swagger UI and ReDoc load their scripts and styles from
the installed fastapi-offline package, never from a CDN; `/` leads to them."""

import re

import pytest


@pytest.mark.asyncio
async def test_root_redirects_to_docs(client):
    """`/` (the first URL `make run` prints) redirects to `/docs` instead of a 404."""
    response = await client.get("/")

    assert response.status_code == 307
    assert response.headers["location"] == "/docs"


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("page", "assets"),
    [
        (
            "/docs",
            {"/static-offline-docs/swagger-ui-bundle.js", "/static-offline-docs/swagger-ui.css"},
        ),
        ("/redoc", {"/static-offline-docs/redoc.standalone.js"}),
    ],
    ids=["swagger-ui", "redoc"],
)
async def test_docs_page_loads_every_asset_from_this_server(client, page, assets):
    """The page names no external URL in `src`/`href`; each script and style it loads is
    served here (a real bundle, not an empty file) with its content type."""
    response = await client.get(page)

    assert response.status_code == 200
    assert "/openapi.json" in response.text
    references = set(re.findall(r'(?:src|href)="([^"]+)"', response.text))
    assert [r for r in references if not r.startswith("/")] == []
    assert assets <= references
    for asset in assets:
        served = await client.get(asset)
        assert served.status_code == 200
        assert len(served.content) > 100_000
        kind = "text/css" if asset.endswith(".css") else "text/javascript"
        assert served.headers["content-type"].startswith(kind)
