"""The test Redis is reachable and keeps what it is given, so Redis-backed stores can be tested."""

import uuid


def test_redis_round_trips_a_value_with_an_expiry(redis_client, redis_prefix):
    key = f"{redis_prefix}probe"
    value = uuid.uuid4().hex
    assert redis_client.set(key, value, ex=60)
    assert redis_client.get(key) == value
    assert 0 < redis_client.ttl(key) <= 60
    assert redis_client.delete(key) == 1
    assert redis_client.get(key) is None
