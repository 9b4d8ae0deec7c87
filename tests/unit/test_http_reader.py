"""The load generator's HTTP client (llhttp through httptools) against canned responses, sent in pieces as
a slow server would: status, where a response ends, and whether the connection can be reused."""

from __future__ import annotations

import asyncio

import pytest

from infermeter.protocols.http import Connection, ProtocolError

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


async def _exchange(responses: list[list[bytes]], close_after: bool = False) -> list[tuple[int, bool] | BaseException]:
    """Serve each response (as its pieces, a pause between them) to one request on one connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for pieces in responses:
            await reader.readuntil(b"\r\n\r\n")
            for piece in pieces:
                writer.write(piece)
                await writer.drain()
                await asyncio.sleep(0.005)
        if close_after:
            writer.close()
        else:
            await asyncio.sleep(0.2)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = await Connection.open("127.0.0.1", port, 5)
    out: list[tuple[int, bool] | BaseException] = []
    for _ in responses:
        try:
            out.append(await conn.request(REQUEST, 5))
        except (ProtocolError, ConnectionError) as exc:
            out.append(exc)
            break
    conn.close()
    server.close()
    return out


def run(responses: list[list[bytes]], close_after: bool = False) -> list[tuple[int, bool] | BaseException]:
    return asyncio.run(_exchange(responses, close_after))


def test_content_length_split_anywhere_and_reused():
    r = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789"
    assert run([[r[:5], r[5:30], r[30:]], [r[:-3], r[-3:]], [r]]) == [(200, True)] * 3


def test_chunked_body_in_pieces():
    r = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3;x=y\r\nabc\r\n0\r\n\r\n"
    assert run([[r[:40], r[40:60], r[60:]], [r]]) == [(201, True), (201, True)]


def test_connection_close_and_http_1_0_are_not_reused():
    assert run([[b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"]]) == [(503, False)]
    assert run([[b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"]]) == [(200, False)]


def test_a_body_without_length_ends_at_the_close():
    assert run([[b"HTTP/1.1 200 OK\r\n\r\n", b"all of it"]], close_after=True) == [(200, False)]


def test_no_body_statuses_end_at_the_headers():
    assert run([[b"HTTP/1.1 204 No Content\r\n\r\n"], [b"HTTP/1.1 304 Not Modified\r\n\r\n"]]) == [(204, True), (304, True)]


@pytest.mark.parametrize("bad", [b"NOT HTTP AT ALL\r\n\r\n", b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
                                 b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
def test_a_malformed_response_is_a_protocol_error(bad):
    [err] = run([[bad]])
    assert isinstance(err, ProtocolError)


def test_a_server_that_closes_mid_body_is_a_connection_error():
    [err] = run([[b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"]], close_after=True)
    assert isinstance(err, ConnectionError)


def test_a_response_that_never_comes_times_out():
    async def go() -> BaseException | None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(2)

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        conn = await Connection.open("127.0.0.1", server.sockets[0].getsockname()[1], 5)
        try:
            await conn.request(REQUEST, 0.1)
        except TimeoutError as exc:
            return exc
        finally:
            conn.close()
            server.close()
        return None

    assert isinstance(asyncio.run(go()), TimeoutError)
