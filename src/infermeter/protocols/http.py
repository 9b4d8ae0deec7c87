"""A small HTTP/1.1 client on asyncio Protocols: keep-alive connections, a request pre-encoded once,
responses parsed by llhttp (httptools) just enough to know their status and where they end.

Built for the load generator (servers use its HttpTarget to say where requests go): no per-request
allocation beyond the response buffer, no header dicts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools


class ProtocolError(Exception):
    pass


@dataclass(frozen=True)
class HttpTarget:
    """Where requests go and what they carry. With several `bodies` (e.g. one per sample photo),
    requests cycle through them."""

    url: str
    method: str = "GET"
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    bodies: tuple[bytes, ...] = ()

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "https" else 80)

    def encode_all(self) -> list[bytes]:
        """One pre-encoded request per body."""
        return [self._encode(b) for b in (self.bodies or (self.body,))]

    def encode(self) -> bytes:
        return self.encode_all()[0]

    def _encode(self, body: bytes) -> bytes:
        parts = urlsplit(self.url)
        if parts.scheme != "http":
            raise ValueError(f"only http:// URLs are supported, not {parts.scheme!r}")
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        host = parts.netloc.rsplit("@", 1)[-1]  # user:password@ never goes into the Host header
        lines = [f"{self.method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
        names = {k.lower() for k, _ in self.headers}
        if "@" in parts.netloc and "authorization" not in names:  # credentials in the URL: sent as Basic auth
            import base64
            from urllib.parse import unquote

            user, password = unquote(parts.username or ""), unquote(parts.password or "")
            lines.append("Authorization: Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        for k, v in self.headers:
            lines.append(f"{k}: {v}")
        if body or self.method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
            if "content-type" not in names:
                lines.append("Content-Type: application/octet-stream")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class _ResponseReader(asyncio.Protocol):
    """Feeds bytes to llhttp (httptools, the parser uvicorn uses) as they arrive; resolves a future with
    (status, keep_alive) when a response is complete. Nothing is buffered or scanned again: llhttp keeps
    its place between chunks (the hand-written parser it replaced re-read the headers on every chunk)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False
        self.lost: BaseException | None = None
        self.in_body = False  # headers in, response not complete: a body that runs to the close ends there
        self.length_known = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc or ConnectionResetError("connection closed by the server")
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.in_body and not self.length_known and exc is None:  # no length, not chunked: the close ends it
            waiter.set_result((self.parser.get_status_code(), False))
        else:
            waiter.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.closed = True  # the stream's framing is lost: the connection cannot be reused
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(ProtocolError(f"bad HTTP response: {exc}"))

    # llhttp's callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if len(name) in (14, 17) and name.lower() in (b"content-length", b"transfer-encoding"):  # the length test first: cheap
            self.length_known = True

    def on_headers_complete(self) -> None:
        self.in_body = True

    def on_message_complete(self) -> None:
        self.in_body = self.length_known = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result((self.parser.get_status_code(), self.parser.should_keep_alive()))


def _expire(waiter: asyncio.Future[tuple[int, bool]]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Connection:
    """One keep-alive connection; `request` sends the pre-encoded bytes and awaits the response."""

    def __init__(self, transport: asyncio.Transport, reader: _ResponseReader, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self.reader = reader
        self.loop = loop

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> Connection:
        loop = asyncio.get_running_loop()
        transport, reader = await asyncio.wait_for(loop.create_connection(_ResponseReader, host, port), timeout)
        return cls(transport, reader, loop)  # type: ignore[arg-type]

    @property
    def usable(self) -> bool:
        return not self.reader.closed

    async def request(self, raw: bytes, timeout: float) -> tuple[int, bool]:
        """Send `raw`, await the response; TimeoutError after `timeout` s (a timer on the future: asyncio.wait_for
        would wrap each request in a Task, a third of the generator's time per request here)."""
        reader = self.reader
        if reader.closed:
            raise reader.lost or ConnectionResetError("connection closed")
        waiter = reader.waiter = self.loop.create_future()
        self.transport.write(raw)
        timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()

    def close(self) -> None:
        self.transport.close()
