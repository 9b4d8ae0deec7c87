"""A test double HTTP server with a known behaviour: service time, parallel workers, failure codes and a
stall. It runs in a background thread on 127.0.0.1 and an ephemeral port. Never reported as a real server.

It is also the self-test's calibrated target: it records the service time it actually gave each request
(sleeps overshoot by up to a millisecond), so queueing theory can be applied to what really happened.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from dataclasses import dataclass


@dataclass
class FakeServerConfig:
    service_ms: float = 1.0
    distribution: str = "deterministic"  # or "exponential"
    workers: int = 1000  # requests served at once; the rest queue
    fail_every: int = 0  # every n-th request answers `fail_status` (0: never)
    fail_status: int = 503
    stall_after_s: float | None = None  # from the first request: stop answering for stall_s
    stall_s: float = 1.0
    seed: int = 0


class FakeHttpServer:
    def __init__(self, config: FakeServerConfig | None = None) -> None:
        self.config = config or FakeServerConfig()
        self.port = 0
        self.requests = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._first: float | None = None
        self._rng = random.Random(self.config.seed)
        self.service_s: list[float] = []  # service actually given, per request (after waiting for a worker)

    def service_moments(self) -> tuple[float, float, int]:
        """(E[S], E[S^2], count) of the service times given since the last reset."""
        s = list(self.service_s)
        if not s:
            return 0.0, 0.0, 0
        return sum(s) / len(s), sum(x * x for x in s) / len(s), len(s)

    def reset_stats(self) -> None:
        self.service_s = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/predict"

    def __enter__(self) -> FakeHttpServer:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fake server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._slots = asyncio.Semaphore(self.config.workers)
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    def _service_s(self) -> float:
        c = self.config
        if c.distribution == "exponential":
            return self._rng.expovariate(1000.0 / c.service_ms) if c.service_ms > 0 else 0.0
        return c.service_ms / 1000.0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        c = self.config
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if length:
                    await reader.readexactly(length)
                self.requests += 1
                n = self.requests
                now = time.monotonic()
                if self._first is None:
                    self._first = now
                if c.stall_after_s is not None:
                    stall_start = self._first + c.stall_after_s
                    if stall_start <= now < stall_start + c.stall_s:
                        await asyncio.sleep(stall_start + c.stall_s - now)
                async with self._slots:
                    service = self._service_s()
                    t0 = time.perf_counter()
                    if service > 0:
                        await asyncio.sleep(service)
                    self.service_s.append(time.perf_counter() - t0)
                status = c.fail_status if c.fail_every and n % c.fail_every == 0 else 200
                body = b'{"ok":true}'
                reason = b"OK" if status == 200 else b"Error"
                writer.write(b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nContent-Type: application/json\r\n\r\n%s" % (status, reason, len(body), body))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def main() -> None:
    """`python -m infermeter.loadgen.fake_server --port N [--service-ms MS]`: serve until SIGTERM."""
    import argparse
    import signal

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--service-ms", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=1000)
    args = ap.parse_args()

    async def serve() -> None:
        srv = FakeHttpServer(FakeServerConfig(service_ms=args.service_ms, workers=args.workers))
        srv._slots = asyncio.Semaphore(args.workers)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        server = await asyncio.start_server(srv._serve, "127.0.0.1", args.port)
        async with server:
            await stop.wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
