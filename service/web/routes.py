"""The pages for people, the kiosk and the console, and every file they load, from the service.

No build step and no Node at run time: the pages are plain HTML, CSS and JavaScript modules in
static/, third-party browser code is vendored in static/vendor/ (see its MANIFEST.json).
"""

from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
STATIC_URL = "/static"

# Everything from this origin only: venues are often offline or behind the mainland firewall,
# and a page that cannot load from elsewhere cannot leak to elsewhere either.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

PAGES = {"/kiosk": "kiosk/index.html", "/console": "console/index.html"}


def _page(file: str) -> Callable[[Request], Awaitable[Response]]:
    path = STATIC / file

    async def page(request: Request) -> Response:
        return FileResponse(path, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    return page


SWAGGER_UI = f"{STATIC_URL}/vendor/swagger-ui"


def add_pages(app: FastAPI) -> None:
    """Serve /kiosk, /console, /docs and /static/...; none of them is part of the API contract."""
    for path, file in PAGES.items():
        app.add_route(path, _page(file), methods=["GET", "HEAD"], include_in_schema=False)

    async def docs(request: Request) -> Response:
        # FastAPI's page, with Swagger UI's files from here instead of a CDN: /docs must work
        # at a venue without the internet.
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{SWAGGER_UI}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{SWAGGER_UI}/swagger-ui.css",
            swagger_favicon_url=f"{root}{SWAGGER_UI}/favicon-32x32.png",
        )

    app.add_route("/docs", docs, methods=["GET", "HEAD"], include_in_schema=False)

    async def kiosk_worker(request: Request) -> Response:
        # At the root, so that its scope may cover /kiosk.
        return FileResponse(
            STATIC / "kiosk" / "sw.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    app.add_route("/kiosk-sw.js", kiosk_worker, methods=["GET", "HEAD"], include_in_schema=False)
    # Compressed: a kiosk on venue Wi-Fi loads its scripts in a fraction of the bytes.
    static = GZipMiddleware(StaticFiles(directory=STATIC), minimum_size=1024)
    app.mount(STATIC_URL, static, name="static")
