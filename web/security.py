"""Response headers every page gets (a plain ASGI middleware: no per-request task overhead)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages use only our own CSS/JS; images come from /media. The API docs page runs Swagger UI
# from our own files (web/app.py), which sets style attributes: it may use inline styles.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


# Pages with CSRF tokens, unpublished photos or operator data: never kept by any cache.
PRIVATE_PREFIXES = ("/moderate", "/api/v1/moderation", "/admin")


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        # Behind https, tell browsers to never try plain http again.
        self.extra = [(b"strict-transport-security", b"max-age=31536000")] if https else []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope["path"].startswith("/api/v1/docs") else CSP
        private = scope["path"].startswith(PRIVATE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for key, value in (
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                    *self.extra,
                ):
                    if key not in names:
                        headers.append((key, value))
                if private:
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
