"""RepeatFilter: a dependency that is down must not log a traceback per request."""

from __future__ import annotations

import logging

from taskforge.logging import RepeatFilter


def _record(msg: str, name: str = "django_redis.cache") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_one_record_per_window_then_a_count_of_the_dropped_ones() -> None:
    now = [100.0]
    f = RepeatFilter(seconds=10, clock=lambda: now[0])
    assert f.filter(_record("Exception ignored"))
    passed = [f.filter(_record("Exception ignored")) for _ in range(5)]
    assert passed == [False] * 5
    now[0] += 10
    again = _record("Exception ignored")
    assert f.filter(again)
    assert again.getMessage() == "Exception ignored (and 5 more like it in the last 10 s)"
    assert not f.filter(_record("Exception ignored"))


def test_other_messages_and_loggers_are_counted_apart() -> None:
    f = RepeatFilter(seconds=10, clock=lambda: 0.0)
    assert f.filter(_record("Exception ignored"))
    assert f.filter(_record("something else"))
    assert f.filter(_record("Exception ignored", name="other.logger"))


def test_the_django_redis_logger_passes_one_of_many(caplog) -> None:
    import uuid

    message = f"Exception ignored {uuid.uuid4().hex}"
    with caplog.at_level(logging.ERROR, logger="django_redis.cache"):
        for _ in range(20):
            logging.getLogger("django_redis.cache").error(message)
    assert [r.getMessage() for r in caplog.records if r.name == "django_redis.cache"] == [message]
