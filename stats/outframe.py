"""A frame bound for many sockets of this process, encoded once for all of them.

The JSON text is built once per frame (stats.broadcast, stats.fanout). Under uvicorn's
websockets-sansio protocol without a compression extension (the production set-up of
docs/deploy.md), the WebSocket framing is the same for every socket too, so the frame's bytes
are built once and written to each socket's transport as they are: that is what
`websockets.broadcast` does, and it cut the per-viewer cost of a live frame to a buffer
write. Every other server (daphne, or uvicorn with permessage-deflate) gets the ASGI message.
"""

from collections.abc import Callable

from websockets.frames import Frame, Opcode
from websockets.protocol import State


class OutFrame:
    __slots__ = ("_wire", "asgi")

    def __init__(self, text: str) -> None:
        self.asgi = {"type": "websocket.send", "text": text}  # shared: the servers only read it
        self._wire: bytes | None = None

    @property
    def text(self) -> str:
        return self.asgi["text"]

    def wire(self) -> bytes:
        """The frame as a server sends it: unmasked, unfragmented, uncompressed."""
        if self._wire is None:
            self._wire = Frame(Opcode.TEXT, self.text.encode()).serialize(mask=False, extensions=[])
        return self._wire


def direct_writer(send) -> Callable[[OutFrame], bool] | None:
    """For uvicorn's websockets-sansio protocol (its bound `send`): a function that writes a
    frame's bytes straight to the socket and returns True, or returns False when the server
    must handle it itself (handshake not done, closing, or an extension negotiated). None
    for any other server."""
    protocol = getattr(send, "__self__", None)
    conn = getattr(protocol, "conn", None)
    needed = ("close_sent", "handshake_complete", "transport")
    if conn is None or not hasattr(conn, "extensions") or not all(hasattr(protocol, a) for a in needed):
        return None

    def write(frame: OutFrame) -> bool:
        # The sans-I/O connection keeps no state for whole outgoing data frames, and uvicorn
        # writes each of its own frames (pings, close) in one call, so frames never interleave.
        if protocol.close_sent or not protocol.handshake_complete or conn.extensions or conn.state is not State.OPEN:
            return False
        transport = protocol.transport
        if transport.is_closing():
            return False
        transport.write(frame.wire())
        return True

    return write
