"""The gateway's Redis cache of admin service and template reads: what is cached, what drops it, and that a Redis
outage only means no caching."""

from __future__ import annotations

import uuid

import fakeredis.aioredis
import pytest
from notify_gateway.adapters.admin_cache import AdminCache, cacheable, written_service

SID = uuid.uuid4()
TID = uuid.uuid4()


def test_only_plain_service_and_template_reads_are_cached() -> None:
    assert cacheable("GET", f"service/{SID}", "") == SID
    assert cacheable("GET", f"service/{SID}/template/{TID}", "") == SID
    assert cacheable("GET", f"service/{SID}", "detailed=True") is None  # statistics change all the time
    assert cacheable("POST", f"service/{SID}", "") is None
    assert cacheable("GET", f"service/{SID}/template/{TID}/versions", "") is None
    assert cacheable("GET", f"service/{SID}/users", "") is None
    assert cacheable("GET", "service/find-services-by-name", "") is None
    assert cacheable("GET", "service/not-a-uuid-at-all-but-36-chars-long-xx", "") is None


def test_every_write_under_a_service_drops_its_reads() -> None:
    assert written_service("POST", f"service/{SID}") == SID
    assert written_service("PUT", f"service/{SID}/guest-list") == SID
    assert written_service("DELETE", f"service/{SID}/users/{TID}") == SID
    assert written_service("POST", f"service/{SID}/template/{TID}") == SID
    assert written_service("GET", f"service/{SID}") is None
    assert written_service("POST", "service") is None
    assert written_service("POST", f"user/{SID}") is None
    assert written_service("POST", f"service/{SID}/notifications") is None  # the search: a read
    assert written_service("POST", f"service/{SID}/notifications/{TID}/cancel") == SID
    assert written_service("POST", f"inbound-number/service/{SID}") == SID
    assert written_service("POST", f"service/{SID}/inbound-sms") is None  # the inbox: a read
    assert written_service("POST", f"service/{SID}/inbound-sms/remove") == SID
    assert written_service("POST", f"inbound-number/service/{SID}/off") == SID
    assert written_service("GET", f"inbound-number/service/{SID}") is None


async def test_put_get_forget() -> None:
    cache = AdminCache(fakeredis.aioredis.FakeRedis(), prefix="t:", ttl=60)
    body, generation = await cache.get(SID, f"service/{SID}")
    assert body is None and generation == "0"
    await cache.put(SID, f"service/{SID}", b'{"data": 1}', generation)
    await cache.put(SID, f"service/{SID}/template/{TID}", b'{"data": 2}', generation)
    assert (await cache.get(SID, f"service/{SID}"))[0] == b'{"data": 1}'
    assert 0 < await cache.redis.ttl(f"t:admin-cache:service-{SID}") <= 60
    await cache.forget(SID)
    assert (await cache.get(SID, f"service/{SID}"))[0] is None
    assert (await cache.get(SID, f"service/{SID}/template/{TID}"))[0] is None


async def test_an_answer_that_raced_a_write_is_not_cached() -> None:
    cache = AdminCache(fakeredis.aioredis.FakeRedis(), prefix="t:", ttl=60)
    _, seen = await cache.get(SID, f"service/{SID}")  # a read begins ...
    await cache.forget(SID)  # ... a write lands and drops the cache ...
    await cache.put(SID, f"service/{SID}", b"old", seen)  # ... and the read's (older) answer arrives
    assert (await cache.get(SID, f"service/{SID}"))[0] is None
    _, current = await cache.get(SID, f"service/{SID}")
    await cache.put(SID, f"service/{SID}", b"new", current)
    assert (await cache.get(SID, f"service/{SID}"))[0] == b"new"


class BrokenRedis:
    def __getattr__(self, name: str) -> object:
        raise ConnectionError("redis is down")


@pytest.mark.parametrize("call", ["get", "put", "forget"])
async def test_a_redis_outage_means_no_caching_not_an_error(call: str) -> None:
    cache = AdminCache(BrokenRedis(), prefix="t:", ttl=60)
    if call == "get":
        assert await cache.get(SID, "p") == (None, None)
    elif call == "put":
        await cache.put(SID, "p", b"x", "0")
    else:
        await cache.forget(SID)
