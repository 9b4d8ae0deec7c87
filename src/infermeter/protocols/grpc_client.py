"""gRPC unary calls for the load generator, with pre-serialized request bytes on grpc.aio channels.

Requests are encoded once before the run (see v2.py for the Open Inference Protocol's ModelInfer), so a
call costs the channel's work only; the outcome is the gRPC status code (OK, UNAVAILABLE, ...).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GrpcTarget:
    """A unary gRPC method and the serialized requests to cycle through."""

    address: str  # host:port
    method: str  # /package.Service/Method
    bodies: tuple[bytes, ...]
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def url(self) -> str:
        return f"grpc://{self.address}{self.method}"

    @property
    def host(self) -> str:
        return self.address.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def encode_all(self) -> list[bytes]:
        return list(self.bodies)


class GrpcCaller:
    """One channel (one virtual user's connection) and its unary callable."""

    def __init__(self, target: GrpcTarget) -> None:
        import grpc

        self._grpc = grpc
        self.channel = grpc.aio.insecure_channel(target.address, options=[("grpc.max_receive_message_length", 64 << 20),
                                                                          ("grpc.max_send_message_length", 64 << 20)])
        # No (de)serializers: requests are already bytes, responses are not parsed.
        self.call = self.channel.unary_unary(target.method)
        self.metadata = target.metadata or None

    async def request(self, raw: bytes, timeout: float) -> str:
        try:
            await self.call(raw, timeout=timeout, metadata=self.metadata)
            return "grpc:OK"
        except self._grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code == self._grpc.StatusCode.DEADLINE_EXCEEDED:
                return "timeout"
            return f"grpc:{code.name}"

    async def close(self) -> None:
        await self.channel.close()


def is_success(kind: str) -> bool:
    return kind.startswith("2") or kind == "grpc:OK"

