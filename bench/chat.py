"""Chat never delays the stats (issue #12): the fan-out step at 1,000 viewers and 200 events/s
without chat, then with a logged-in user sending 20 chat messages/s on the same game's socket.
The events' figures (deliveries per CPU-second, p99 from post to receipt) of the two rows are
compared in the same run."""

import asyncio
import json

import websockets

from bench.fanout import Target, fanout_step

CHAT_RATE = 20.0


async def chatter(port: int, slug: str, cookie: str, sent: list[int]) -> None:
    """Sends chat at CHAT_RATE until cancelled; reads (and drops) what the server sends."""
    url = f"ws://127.0.0.1:{port}/ws/games/{slug}/"
    headers = {"Cookie": f"sessionid={cookie}"}
    async with websockets.connect(url, origin=f"http://127.0.0.1:{port}", additional_headers=headers) as ws:
        reader = asyncio.create_task(_drain(ws))
        loop = asyncio.get_running_loop()
        start = loop.time()
        try:
            while True:
                await ws.send(json.dumps({"type": "chat", "text": f"message {len(sent)}"}))
                sent.append(1)
                await asyncio.sleep(max(0.0, start + len(sent) / CHAT_RATE - loop.time()))
        finally:
            reader.cancel()


async def _drain(ws) -> None:
    async for _ in ws:
        pass


async def step(target: Target, cookie: str | None, args) -> dict:
    sent: list[int] = []
    task = asyncio.create_task(chatter(target.http_port, target.slug, cookie, sent)) if cookie else None
    try:
        row = await fanout_step(target, args.chat_viewers, args.chat_events_rate, args.seconds, args)
    finally:
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    row["chat_sent_per_s"] = round(len(sent) / args.seconds, 1) if sent else 0
    return row


def chat_bench(st, args) -> list[dict]:
    """The `chat` step of `make bench`: the same load without, then with, chat."""
    rows = []
    for with_chat in (False, True):
        slug = f"chat-{int(with_chat)}"
        key = st.games_create([slug])[slug]
        cookie = json.loads(st.django("--session", "bench-chatter"))["sessionid"] if with_chat else None
        proc = st.web(args.app_server, name=slug, CHAT_RATE_LIMIT="100000000")
        sockets = [(proc.port, f"/ws/games/{slug}/")]
        target = Target(f"app/{args.app_server}", proc.pids, sockets, proc.http_port, slug, key)
        try:
            rows.append(asyncio.run(step(target, cookie, args)))
        finally:
            st.stop(proc)
    return rows
