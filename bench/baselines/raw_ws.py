"""Baseline (a): the practical limit of Python on this machine. A bare `websockets` server on
uvloop that keeps the seq in memory, encodes each frame once and hands it to
websockets.broadcast. Events come in by HTTP POST on a second port (same JSON as the app's
API, no database, no auth), so the same poster and the same viewers drive it.

`python -m bench.baselines.raw_ws --port P --http-port Q`
"""

import argparse
import asyncio
import json
import time

import uvloop
from websockets.asyncio.server import broadcast, serve


class Game:
    def __init__(self) -> None:
        self.seq = 0
        self.viewers: set = set()
        self.totals: dict[str, int] = {}

    def frame(self, events: list[dict]) -> str:
        now_ms = int(time.time() * 1000)
        wire = []
        for e in events:
            self.seq += 1
            self.totals[e["player"]] = self.totals.get(e["player"], 0) + e["points"]
            wire.append(
                {"id": e["id"], "seq": self.seq, "player": e["player"], "points": e["points"], "kind": "score",
                 "at_ms": now_ms, "received_ms": now_ms}
            )  # fmt: skip
        players = [{"player": p, "total": self.totals[p]} for p in {e["player"]: 0 for e in events}]
        frame = {"type": "events", "events": wire, "players": players, "game": {"last_seq": self.seq}}
        return json.dumps(frame, separators=(",", ":"))


GAME = Game()


async def viewer(ws) -> None:
    await ws.send(json.dumps({"type": "snapshot", "seq": GAME.seq}))
    GAME.viewers.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        GAME.viewers.discard(ws)


async def http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while request := await reader.readline():
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = json.loads(await reader.readexactly(length)) if length else {}
            events = body.get("events", [body])
            broadcast(GAME.viewers, GAME.frame(events))
            answer = json.dumps({"accepted": len(events), "duplicates": 0, "last_seq": GAME.seq}).encode()
            writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n")
            writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            del request
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


async def main(port: int, http_port: int) -> None:
    server = await asyncio.start_server(http, "127.0.0.1", http_port)
    async with serve(viewer, "127.0.0.1", port, compression=None), server:
        await asyncio.Future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.port, args.http_port))
