"""Request bodies are refused once they pass a size limit, on every route, before they are held.

An ASGI middleware: a ``Content-Length`` over the limit is answered ``413 payload_too_large``
without reading anything; a body without one (chunked) is counted as it arrives and refused
as soon as the count passes the limit, so a node never holds more than the limit plus one
chunk of any request.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import NodeError


class BodyLimit:
    """Wraps an ASGI app; see the module docstring."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def refusal(self) -> NodeError:
        return NodeError("payload_too_large", f"request bodies are limited to {self.max_bytes} bytes")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                e = self.refusal()
                await JSONResponse(e.body(), status_code=e.status)(scope, receive, send)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self.refusal()  # answered by the app's NodeError handler
            return message

        await self.app(scope, counted, send)
