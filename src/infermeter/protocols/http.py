"""A small HTTP/1.1 client on asyncio Protocols: keep-alive connections, a request pre-encoded once,
responses parsed just enough to know their status and where they end (Content-Length or chunked).

Built for the load generator (servers use its HttpTarget to say where requests go): no per-request
allocation beyond the response buffer, no header dicts.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from urllib.parse import urlsplit


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
    """Collects bytes until one full response is in; resolves a future with (status, keep_alive)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.closed = False
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.lost = exc or ConnectionResetError("connection closed by the server")
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.waiter is not None and not self.waiter.done():
            try:
                parsed = self._parse()
            except ProtocolError as exc:
                self.waiter.set_exception(exc)
                return
            if parsed is not None:
                self.waiter.set_result(parsed)

    def _parse(self) -> tuple[int, bool] | None:
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            return None
        head = bytes(buf[:end]).decode("latin-1")
        lines = head.split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            raise ProtocolError(f"bad status line {lines[0][:80]!r}") from None
        length = None
        chunked = False
        keep_alive = not lines[0].startswith("HTTP/1.0")
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection":
                keep_alive = value.strip().lower() != "close"
        body_start = end + 4
        if chunked:
            pos = body_start
            while True:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    return None
                size = int(bytes(buf[pos:nl]).split(b";")[0], 16)
                pos = nl + 2 + size + 2
                if len(buf) < pos:
                    return None
                if size == 0:
                    del buf[:pos]
                    return status, keep_alive
        if length is None:
            if status in (204, 304) or 100 <= status < 200:
                length = 0
            else:  # body runs to connection close: not reusable
                return None if not self.closed else (status, False)
        if len(buf) < body_start + length:
            return None
        del buf[: body_start + length]
        return status, keep_alive


class Connection:
    """One keep-alive connection; `request` sends the pre-encoded bytes and awaits the response."""

    def __init__(self, transport: asyncio.Transport, reader: _ResponseReader) -> None:
        self.transport = transport
        self.reader = reader

    @classmethod
    async def open(cls, host: str, port: int, timeout: float) -> Connection:
        loop = asyncio.get_running_loop()
        transport, reader = await asyncio.wait_for(loop.create_connection(_ResponseReader, host, port), timeout)
        return cls(transport, reader)  # type: ignore[arg-type]

    @property
    def usable(self) -> bool:
        return not self.reader.closed

    async def request(self, raw: bytes) -> tuple[int, bool]:
        reader = self.reader
        if reader.closed:
            raise reader.lost or ConnectionResetError("connection closed")
        loop = asyncio.get_running_loop()
        reader.waiter = loop.create_future()
        self.transport.write(raw)
        return await reader.waiter

    def close(self) -> None:
        self.transport.close()
