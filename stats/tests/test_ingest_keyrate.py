"""The key's rate limit on the ingest socket (stats.ingest.keyrate): frames reserved from the
real limiter (Redis) in batches before they are sent, refused from the limiter's answer on;
POSTs counted and told in batches."""

import asyncio
import time

import pytest

from stats import ratelimit
from stats.ingest import keyrate


@pytest.fixture
def limited(settings):
    settings.API_RATE_LIMIT = 120
    settings.API_RATE_WINDOW = 60
    return settings


def test_the_limiter_counts_a_batch_of_frames_at_once(limited):
    prefix = "batch-" + str(id(limited))
    assert ratelimit.api_key_retry_after(key_prefix=prefix, cost=100) is None
    assert ratelimit.api_key_retry_after(key_prefix=prefix, cost=20) is None
    assert ratelimit.api_key_retry_after(key_prefix=prefix, cost=1) is not None  # 121 > 120


async def test_a_socket_reserves_in_batches_and_never_passes_the_limit_in_a_burst(limited, monkeypatch):
    """400 frames as fast as the socket reads them: the frames allowed are frames the limiter
    counted first, so no more than the limit pass (counting after the fact let every frame of
    a burst through until the first report came back), and the reservations grow 1, 2, 4 ...
    up to a batch."""
    reports: list[int] = []
    real = keyrate._retry_after

    async def counting(*, key_prefix, cost):
        reports.append(cost)
        return await real(key_prefix=key_prefix, cost=cost)

    monkeypatch.setattr(keyrate, "_retry_after", counting)
    rate = keyrate.KeyRate("sock-" + str(id(reports)))
    verdicts = [await rate.take() for _ in range(400)]
    allowed = sum(v is None for v in verdicts)
    assert 120 - keyrate.batch_size() <= allowed <= 120
    assert reports[:3] == [1, 2, 4] and max(reports) == keyrate.batch_size() == 6
    first_refused = verdicts.index(next(v for v in verdicts if v is not None))
    assert first_refused == allowed and all(v is not None and v >= 1 for v in verdicts[first_refused:])
    rate.close()


async def test_sockets_of_one_key_together_never_pass_the_limit(limited):
    """Three sockets of one key, interleaved as a server's loop runs them."""
    prefix = "socks-" + str(id(limited))
    rates = [keyrate.KeyRate(prefix) for _ in range(3)]

    async def burst(rate) -> int:
        return sum([await rate.take() is None for _ in range(300)])

    allowed = sum(await asyncio.gather(*(burst(rate) for rate in rates)))
    assert 120 - 3 * keyrate.batch_size() <= allowed <= 120
    for rate in rates:
        rate.close()


async def test_without_redis_the_socket_is_not_refused(limited, monkeypatch):
    async def failing_open(*, key_prefix, cost):
        return None  # what the limiter answers when Redis is unreachable (it logs once)

    monkeypatch.setattr(keyrate, "_retry_after", failing_open)
    rate = keyrate.KeyRate("down")
    assert all([await rate.take() is None for _ in range(500)])
    rate.close()


async def test_posts_of_one_key_are_reported_in_batches_from_many_requests(limited, monkeypatch):
    """HTTP: 8 POSTs at a time share the key's count; Redis hears it in batches, and the key
    is refused within a few batches of its limit."""
    reports: list[int] = []
    real = ratelimit.api_key_retry_after

    def counting(*, key_prefix, cost=1):
        reports.append(cost)
        return real(key_prefix=key_prefix, cost=cost)

    monkeypatch.setattr(ratelimit, "api_key_retry_after", counting)
    prefix = "http-" + str(id(reports))
    verdicts: list = []

    async def post_many() -> None:
        for _ in range(50):
            verdicts.append(await keyrate.http_atake(prefix))

    began = time.monotonic()
    await asyncio.gather(*(post_many() for _ in range(8)))
    # A report is a batch (or REPORT_SECONDS' worth): far fewer round trips than POSTs, none
    # lost; at most one report per request in flight, so the key is refused within 8 batches.
    # (A busy machine may also let REPORT_SECONDS pass between two POSTs: one report more each.)
    timed = (time.monotonic() - began) / keyrate.REPORT_SECONDS
    assert len(verdicts) == 400 and len(reports) <= 400 // keyrate.batch_size() + 8 + timed
    allowed = sum(v is None for v in verdicts)
    assert 120 - keyrate.batch_size() <= allowed <= 120 + 8 * keyrate.batch_size()
    assert await keyrate.http_atake(prefix) is not None  # refused from the limiter's answer on


async def test_a_low_limit_is_exact_for_posts(settings):
    settings.API_RATE_LIMIT = 3
    prefix = "low-" + str(id(settings))
    assert keyrate.batch_size() == 1
    assert [await keyrate.http_atake(prefix) is None for _ in range(5)] == [True, True, True, False, False]
