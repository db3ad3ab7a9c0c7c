"""A lean WebSocket viewer process for the benchmarks: `python -m bench.clients <json config>`.

One process holds many sockets on a bare asyncio protocol (uvloop), parses server frames by
hand and pulls ids and seqs out with one regex per frame, so that a client process costs a
few microseconds per frame and does not become what is measured. Event ids carry the time
they were posted (`b<microseconds>x<n>`), so each process computes latency on its own.

Talks to its parent on stdin/stdout, one JSON object per line: prints {"ready": n} once all
sockets have their first frame, then waits for {"expect": last_seq, "timeout": s}, and prints
its figures when every socket reached last_seq (or at the timeout).
"""

import asyncio
import base64
import json
import os
import re
import struct
import sys
import time
from array import array
from functools import partial

import uvloop

# Tolerates json.dumps' default separators too (the naive baseline uses them).
EVENT = re.compile(rb'"id": ?"b(\d+)x\d+", ?"seq": ?(\d+)')
FIRST_SEQ = re.compile(rb'"seq": ?(\d+)')
FRAME_TYPE = re.compile(rb'"type": ?"(\w+)"')
BIN_US = 50  # latency histogram resolution
BINS = 200_000  # up to 10 s


class Stats:
    def __init__(self) -> None:
        self.hist = array("L", bytes(4 * BINS) if array("L").itemsize == 4 else bytes(8 * BINS))
        self.last_seen: dict[int, float] = {}  # seq -> latency (us) of its slowest delivery
        self.frames = self.deliveries = self.gaps = self.resyncs = self.dups = 0
        self.types: dict[str, int] = {}  # frames by type ("events+resumed" for gap fills)

    def summary(self) -> dict:
        hist = {i: n for i, n in enumerate(self.hist) if n}
        return {
            "frames": self.frames,
            "deliveries": self.deliveries,
            "gaps": self.gaps,
            "resyncs": self.resyncs,
            "dups": self.dups,
            "types": self.types,
            "hist": hist,
            "last_seen": self.last_seen,
        }


class Viewer(asyncio.Protocol):
    def __init__(self, host: str, path: str, stats: Stats, opened: asyncio.Future) -> None:
        self.host, self.path, self.stats, self.opened = host, path, stats, opened
        self.buf = bytearray()
        self.handshaken = False
        self.last_seq = -1  # -1 until the first (snapshot) frame
        self.closed = False
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Origin: http://{self.host}\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"closed before first frame: {exc}"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.handshaken:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buf.startswith(b"HTTP/1.1 101"):
                if not self.opened.done():
                    self.opened.set_exception(ConnectionError(bytes(buf[:80]).decode(errors="replace")))
                self.transport.close()
                return
            del buf[: end + 4]
            self.handshaken = True
        now = time.time()
        pos, size = 0, len(buf)
        while size - pos >= 2:
            opcode, length = buf[pos] & 0x0F, buf[pos + 1] & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length, head = struct.unpack_from("!H", buf, pos + 2)[0], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, head = struct.unpack_from("!Q", buf, pos + 2)[0], 10
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            if opcode == 1:
                self.frame(payload, now)
            elif opcode == 9:
                self.send_control(0xA, payload)
            elif opcode == 8:
                self.closed = True
        del buf[:pos]

    def send_control(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.transport.write(bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + masked)

    def frame(self, payload: bytes, now: float) -> None:
        stats = self.stats
        stats.frames += 1
        if self.last_seq < 0:
            match = FIRST_SEQ.search(payload)
            self.last_seq = int(match.group(1)) if match else 0
            if not self.opened.done():
                self.opened.set_result(self)
            return
        match = FRAME_TYPE.search(payload, 0, 40)
        kind = match.group(1).decode() if match else "?"
        # Replays are encoded by send_json (with spaces), live frames compactly: match both.
        if b'"resumed":true' in payload or b'"resumed": true' in payload:
            kind += "+resumed"
        stats.types[kind] = stats.types.get(kind, 0) + 1
        if kind in ("events+resumed", "snapshot"):
            stats.resyncs += 1
        last, hist, seen = self.last_seq, stats.hist, stats.last_seen
        now_us = now * 1e6
        for posted, seq in EVENT.findall(payload):
            seq = int(seq)
            if seq <= last:
                stats.dups += 1
                continue
            if seq != last + 1:
                stats.gaps += seq - last - 1
            last = seq
            stats.deliveries += 1
            lat = now_us - int(posted)
            hist[min(int(lat / BIN_US), BINS - 1)] += 1
            if seen.get(seq, -1.0) < lat:
                seen[seq] = lat  # the slowest viewer of this event so far
        self.last_seq = last


async def viewers_open(cfg: dict, stats: Stats) -> list[Viewer]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(cfg.get("parallel", 50))
    host, targets = cfg["host"], cfg["targets"]

    async def one(i: int) -> Viewer:
        port, path = targets[i % len(targets)]
        for attempt in range(3):  # a loaded server may drop a handshake: retry, as a browser would
            async with gate:
                opened = loop.create_future()
                await loop.create_connection(partial(Viewer, f"{host}:{port}", path, stats, opened), host, port)
                try:
                    return await asyncio.wait_for(opened, 30)
                except (ConnectionError, TimeoutError):
                    if attempt == 2:
                        raise
            await asyncio.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    return await asyncio.gather(*(one(i) for i in range(cfg["count"])))


async def parent_line() -> dict:
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    return json.loads(line) if line.strip() else {}


async def main(cfg: dict) -> None:
    stats = Stats()
    viewers = await viewers_open(cfg, stats)
    print(json.dumps({"ready": len(viewers)}), flush=True)
    cpu0, wall0 = time.process_time(), time.monotonic()
    order = await parent_line()
    expect, deadline = order.get("expect", 0), time.monotonic() + order.get("timeout", 0)

    def behind() -> bool:
        return any(v.last_seq < expect and not v.closed for v in viewers)

    while time.monotonic() < deadline and behind():  # noqa: ASYNC110 - polls sockets, no one event to wait on
        await asyncio.sleep(0.05)
    out = stats.summary()
    out.update(
        behind=sum(v.last_seq < expect for v in viewers),
        closed=sum(v.closed for v in viewers),
        cpu_s=time.process_time() - cpu0,
        wall_s=time.monotonic() - wall0,
    )
    print(json.dumps(out), flush=True)
    for v in viewers:
        v.transport.close()


if __name__ == "__main__":
    uvloop.run(main(json.loads(sys.argv[1])))
