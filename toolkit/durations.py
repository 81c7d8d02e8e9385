"""Durations written the way operators type them: ``90d``, ``24h``, ``30m``, ``45s``, ``2w``."""

from __future__ import annotations

import datetime
import re

from toolkit.errors import InvalidOption

_DURATION = re.compile(r"(?P<amount>[0-9]{1,6})(?P<unit>[smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
# Far enough for any key or grace period, near enough that adding it to now() cannot overflow.
LONGEST = datetime.timedelta(days=3660)


def parse_duration(text: str, *, option: str, allow_zero: bool = False) -> datetime.timedelta:
    """The timedelta ``text`` stands for: a whole number and one unit of s, m, h, d or w.

    ``option`` names where the value came from (e.g. ``--expires``) in the error message.
    Raises InvalidOption for anything else, for zero unless ``allow_zero``, and for more
    than ten years.
    """
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidOption(
            f"invalid duration {text!r} for {option}: write a whole number followed by one "
            "unit, s (seconds), m (minutes), h (hours), d (days) or w (weeks), e.g. 90d or 24h"
        )
    duration = datetime.timedelta(seconds=int(match["amount"]) * _UNIT_SECONDS[match["unit"]])
    if not duration and not allow_zero:
        raise InvalidOption(f"invalid duration {text!r} for {option}: it must be longer than 0")
    if duration > LONGEST:
        raise InvalidOption(
            f"invalid duration {text!r} for {option}: at most {LONGEST.days}d (about ten years)"
        )
    return duration
