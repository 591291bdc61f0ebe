"""The two apps test_browser_cors.py serves: a page on one origin, an API on another.

The page's script fetches what its query string names (``url``, ``method``, a JSON
``body``, ``credentials``) and writes what it saw into ``<pre id="result">``: the status
and body, or the error the browser raised. The API allows the origin given by the
test through ``ZEPHYR_CORS_ALLOW_ORIGINS``; its ``/shared`` group allows any loopback
page, with credentials, and leaves CSRF to ``ZEPHYR_CSRF_TRUSTED_ORIGINS``.
"""

from __future__ import annotations

from zephyr import HTMLResponse, Response, Zephyr

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>CORS page</title></head>
<body><h1>A page on another origin</h1><pre id="result"></pre>
<script src="/fetch.js"></script></body></html>
"""

SCRIPT = """
const asked = new URLSearchParams(location.search);
const result = document.getElementById("result");
const init = {method: asked.get("method"), credentials: asked.get("credentials")};
if (asked.has("body")) {
  init.headers = {"Content-Type": "application/json"};
  init.body = asked.get("body");
}
fetch(asked.get("url"), init)
  .then(async (response) => ({status: response.status, body: await response.text()}))
  .catch((error) => ({error: `${error.name}: ${error.message}`}))
  .then((seen) => {
    result.textContent = JSON.stringify(seen);
    result.dataset.done = "yes";
  });
"""

# The page may connect to the API on another loopback port (the CSP says where to).
pages = Zephyr(__name__, content_security_policy=(
    "default-src 'self'; connect-src 'self' http://127.0.0.1:* http://localhost:*"))


@pages.get("/")
async def page() -> HTMLResponse:
    return HTMLResponse(PAGE)


@pages.get("/fetch.js")
async def fetch_script() -> Response:
    return Response(SCRIPT, media_type="text/javascript")


api = Zephyr(__name__)


@api.get("/data")
async def data() -> dict[str, list[int]]:
    return {"items": [1, 2]}


# A PUT with a JSON body is preflighted. Called with a token, not cookies: no CSRF check.
@api.put("/data", csrf=False)
async def replace_data(body: dict[str, list[int]]) -> dict[str, list[int]]:
    return body


shared = api.group("/shared", cors={
    "allow_origin_regex": r"http://(127\.0\.0\.1|localhost):[0-9]+",
    "allow_credentials": True,
})


@shared.post("/notes")
async def add_note(body: dict[str, str]) -> dict[str, str]:
    return {"saved": body["text"]}
