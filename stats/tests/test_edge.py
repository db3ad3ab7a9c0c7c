"""The HTTP edge (webgame.edge, issue #10) against real servers: uvicorn as in the Procfile, and
daphne (the `live` fixture), which buffers a whole request before the app sees it, so there only
the answer is checked, not the memory. Requests are written by hand on a socket: the tests need
to stop sending, or stall, in the middle of a body."""

import asyncio
import json
import select
import socket
from dataclasses import dataclass
from pathlib import Path

import pytest
import websockets
from django.conf import settings

from stats.models import ScoreEvent
from stats.tests.support import UvicornProc, web_proc_running

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024
STALL_SECONDS = 2  # HTTP_BODY_TIMEOUT of the uvicorn server here (10 s by default)
ANSWER_WAIT = 30  # how long a socket read waits for the answer that should come


class EdgeUvicorn(UvicornProc):
    def env(self) -> dict[str, str]:
        return {**super().env(), "HTTP_BODY_TIMEOUT": str(STALL_SECONDS)}


@pytest.fixture(scope="module")
def uvicorn_server(django_db_setup, django_db_blocker, valkey):
    """uvicorn in a child process with the Procfile's flags: its memory is measured."""
    with web_proc_running(EdgeUvicorn, django_db_blocker, valkey) as server:
        yield server


@pytest.fixture(params=["uvicorn", "daphne"])
def server(request):
    return request.getfixturevalue("uvicorn_server" if request.param == "uvicorn" else "live")


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def error_code(self) -> str:
        assert self.headers.get("content-type") == "application/json", self.headers
        return json.loads(self.body)["error"]["code"]


def memory_kib(pid: int, field: str) -> int:
    """VmRSS (now) or VmHWM (the peak so far) of a process, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise ValueError(f"no {field} for pid {pid}")


def head(port: int, *, length: int | None = None, key: str | None = None, slug: str) -> bytes:
    lines = [f"POST /api/games/{slug}/events HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    lines.append(f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked")
    if key:
        lines.append(f"Authorization: Bearer {key}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(body: bytes, piece: int = 64 * 1024, *, last: bool = True):
    for start in range(0, len(body), piece):
        part = body[start : start + piece]
        yield b"%x\r\n%s\r\n" % (len(part), part)
    if last:
        yield b"0\r\n\r\n"


def answer_read(sock: socket.socket) -> Answer:
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        assert got, f"the server closed the connection without an answer (got {data[:200]!r})"
        data += got
    top, _, body = data.partition(b"\r\n\r\n")
    lines = top.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length and (got := sock.recv(65536)):
        body += got
    return Answer(int(lines[0].split()[1]), headers, body[:length])


def peer_closed(sock: socket.socket) -> bool:
    """Waits (up to ANSWER_WAIT) for the server to close the connection."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def send(port: int, first: bytes, pieces=(), *, closed: bool = False) -> tuple[Answer, int]:
    """Writes `first`, then the pieces until the server answers; returns the answer and how
    many bytes of pieces were sent. With `closed`, also asserts the server then hangs up."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WAIT) as sock:
        sock.sendall(first)
        for piece in pieces:
            if select.select([sock], [], [], 0)[0]:
                break  # answered (or closed) before the body was all sent
            try:
                sock.sendall(piece)
            except OSError:  # closed under us: the answer may be there all the same
                break
            sent += len(piece)
        answer = answer_read(sock)
        assert not closed or peer_closed(sock), "the connection stayed open after the refusal"
    return answer, sent


def batch_padded(size: int, event_id: str = "edge-1") -> bytes:
    """A valid one-event batch, padded with spaces (valid JSON) to exactly `size` bytes."""
    body = json.dumps({"events": [{"id": event_id, "player": "ada", "points": 3}]}).encode()
    return body + b" " * (size - len(body))


def test_a_declared_body_over_the_cap_is_refused_at_once_under_uvicorn(uvicorn_server, game):
    """Announced 50 MiB, sent 1 KiB: no answer in 60 s before the fix. Now 413 at once, from
    the headers alone, and before the key is looked at (the view would say 401)."""
    answer, _ = send(
        uvicorn_server.port, head(uvicorn_server.port, length=50 * MIB, slug=game.slug) + b"x" * 1024, closed=True
    )
    assert (answer.status, answer.error_code()) == (413, "too_large")


def test_a_chunked_body_is_cut_off_at_the_cap_under_uvicorn_without_holding_it(uvicorn_server, game):
    """A 300 MB chunked POST was read to its end before the 413. Now it is cut off at the cap
    (the view never runs: it would say 401), and the server's memory barely moves."""
    pid = uvicorn_server.popen.pid
    before = memory_kib(pid, "VmRSS")
    piece = b"%x\r\n%s\r\n" % (64 * 1024, b"x" * 64 * 1024)
    answer, sent = send(
        uvicorn_server.port, head(uvicorn_server.port, slug=game.slug), [piece] * (300 * 16), closed=True
    )
    assert (answer.status, answer.error_code()) == (413, "too_large")
    assert sent < 64 * MIB, f"{sent / MIB:.0f} MiB were sent before the answer"
    peak = memory_kib(pid, "VmHWM")
    assert peak - before < 20 * 1024, f"RSS {before // 1024} MiB before, peak {peak // 1024} MiB"


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_the_cap_gets_the_json_413_under_daphne(live, game, framing):
    """daphne reads the whole body before the app runs, so only the answer can be fixed there:
    the edge's 413, not the view's 401 for a request with no key."""
    body = b"x" * (2 * MIB)
    if framing == "length":
        answer, _ = send(live.port, head(live.port, length=len(body), slug=game.slug) + body)
    else:
        answer, _ = send(live.port, head(live.port, slug=game.slug), chunked(body))
    assert (answer.status, answer.error_code()) == (413, "too_large")


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_at_the_cap_is_processed_and_one_byte_more_is_not(server, api_key, game, framing):
    cap = settings.MAX_BODY_BYTES
    for size, event_id, expected in [(cap, "at-cap", 202), (cap + 1, "over-cap", 413)]:
        body = batch_padded(size, event_id)
        if framing == "length":
            answer, _ = send(server.port, head(server.port, length=size, key=api_key, slug=game.slug) + body)
        else:
            answer, _ = send(server.port, head(server.port, key=api_key, slug=game.slug), chunked(body))
        assert answer.status == expected, answer
    assert list(ScoreEvent.objects.values_list("event_id", flat=True)) == ["at-cap"]


def test_a_normal_post_is_accepted(server, api_key, game):
    body = json.dumps({"id": "small", "player": "ada", "points": 5}).encode()
    answer, _ = send(server.port, head(server.port, length=len(body), key=api_key, slug=game.slug) + body)
    assert answer.status == 202, answer
    assert json.loads(answer.body) == {"accepted": 1, "duplicates": 0, "last_seq": 1}


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_stalled_body_is_answered_408_and_closed_under_uvicorn(uvicorn_server, api_key, game, framing):
    """A request that announced more body than it sent held its connection for good."""
    port = uvicorn_server.port
    if framing == "length":
        first = head(port, length=1000, key=api_key, slug=game.slug) + b'{"id": "stalled"'
    else:
        first = head(port, key=api_key, slug=game.slug) + next(chunked(b'{"id": "stalled"', last=False))
    answer, _ = send(port, first, closed=True)
    assert (answer.status, answer.error_code()) == (408, "body_timeout")
    assert not ScoreEvent.objects.exists()


async def test_a_websocket_message_over_1_mib_closes_1009_under_uvicorn(uvicorn_server, game):
    """uvicorn read messages up to its default 16 MiB; the Procfile's --ws-max-size caps them
    at the documented 1 MiB, and the frame is refused from its header, before its payload."""
    port, pid = uvicorn_server.port, uvicorn_server.popen.pid
    url = f"ws://127.0.0.1:{port}/ws/games/{game.slug}/"
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}") as ws:
        await ws.recv()  # the socket is up (the first frame, whatever it is)
        before = memory_kib(pid, "VmRSS")
        with pytest.raises(websockets.ConnectionClosed):
            # The server may refuse the frame while the client still writes it, so the
            # send itself can be what sees the close.
            async with asyncio.timeout(ANSWER_WAIT):
                await ws.send("x" * (2 * MIB))
                while True:
                    await ws.recv()
    assert ws.close_code == 1009
    after = memory_kib(pid, "VmRSS")
    assert after - before < 8 * 1024, f"RSS {before // 1024} MiB before, {after // 1024} MiB after"
