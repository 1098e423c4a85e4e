"""The pages and their files are served by the service itself, locked to its own origin."""

import httpx


async def test_pages_are_served_with_a_same_origin_policy(client: httpx.AsyncClient) -> None:
    for path in ("/kiosk", "/console"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert '<script type="module" src="/static/' in response.text


async def test_static_files_are_served_with_their_types(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/common/api.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert "export async function api(" in script.text
    style = await client.get("/static/common/base.css")
    assert style.headers["content-type"].startswith("text/css")
    assert (await client.get("/static/common/missing.js")).status_code == 404


async def test_docs_load_swagger_ui_from_the_service(client: httpx.AsyncClient) -> None:
    response = await client.get("/docs")
    assert response.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in response.text
    assert "cdn." not in response.text and "https://" not in response.text
    bundle = await client.get("/static/vendor/swagger-ui/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text


async def test_static_files_are_compressed_for_browsers_that_ask(client: httpx.AsyncClient) -> None:
    plain = await client.get("/static/kiosk/kiosk.js", headers={"Accept-Encoding": "identity"})
    packed = await client.get("/static/kiosk/kiosk.js", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert packed.text == plain.text  # httpx decodes it
    assert int(packed.headers["content-length"]) < len(plain.content) / 2


async def test_the_kiosk_worker_is_served_from_the_root(client: httpx.AsyncClient) -> None:
    response = await client.get("/kiosk-sw.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert response.headers["cache-control"] == "no-cache"
    assert '"/static/kiosk/kiosk.js"' in response.text
