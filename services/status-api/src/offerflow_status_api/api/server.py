"""The HTTP server's own refusals in the API's error shape.

A request head the HTTP parser cannot read (a malformed request line, or headers beyond h11's limit: 16 KiB
still incomplete, so in practice heads past one read of 64 KiB) is refused by uvicorn before any ASGI application
or middleware sees it, with a plain-text body. This protocol answers the same 400, with the same
``Connection: close``, as ``{"error": {code, message, details}}``, so that every answer of the API is its JSON
error body.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

UNREADABLE = json.dumps({"error": {
    "code": "BadRequest", "details": [],
    "message": "The request cannot be read: its request line or headers are malformed or too large."}}).encode()


class JsonErrorsProtocol(H11Protocol):
    def send_400_response(self, msg: str) -> None:
        headers = [(b"content-type", b"application/json"), (b"connection", b"close")]
        for event in (h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
                      h11.Data(data=UNREADABLE), h11.EndOfMessage()):
            self.transport.write(self.conn.send(event))
        self.transport.close()
