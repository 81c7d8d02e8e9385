"""Kinds of setting value: how text becomes a value, which values are acceptable, and how
a value is written back for messages and the docs. ``toolkit.settings`` lists the settings.

Plain classes with ``__slots__`` rather than dataclasses: the CLI imports this module on
every start, and building a dataclass costs about a millisecond each.
"""

from __future__ import annotations

import math
import re
from pathlib import Path


class Kind:
    """What every kind offers; ``type_name`` is the type column of the docs table."""

    __slots__ = ()
    type_name = "value"

    def convert(self, text: str) -> object:
        """The value ``text`` stands for; ValueError if it is not of this kind at all."""
        raise NotImplementedError

    def accepts(self, value: object) -> bool:
        """True if ``value`` has the right type and lies in range."""
        raise NotImplementedError

    def describe(self) -> str:
        """What an acceptable value looks like, for error messages and the docs."""
        raise NotImplementedError

    def show(self, value: object) -> str:
        """``value`` written as an operator would set it."""
        return str(value)


class Whole(Kind):
    """A whole number from ``low`` to ``high``, written in decimal digits."""

    __slots__ = ("high", "low")
    type_name = "integer"

    def __init__(self, low: int, high: int) -> None:
        self.low, self.high = low, high

    def convert(self, text: str) -> object:
        if not re.fullmatch(r"[+-]?[0-9]{1,9}", text):
            raise ValueError(text)
        return int(text)

    def accepts(self, value: object) -> bool:
        return type(value) is int and self.low <= value <= self.high

    def describe(self) -> str:
        return f"a whole number from {self.low} to {self.high}"

    def show(self, value: object) -> str:
        return str(value)


_DURATION = re.compile(r"(?P<amount>[0-9]{1,9}(?:\.[0-9]{1,6})?)\s*(?P<unit>ms|s|m|h)?")
_UNIT_SECONDS = {"s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class Duration(Kind):
    """Seconds, written ``30``, ``2.5``, ``500ms``, ``30s``, ``5m`` or ``1h``; with
    ``can_be_off``, ``0`` or ``off`` means None (no limit)."""

    __slots__ = ("can_be_off", "high", "low")
    type_name = "duration"

    def __init__(self, low: float, high: float, *, can_be_off: bool = False) -> None:
        self.low, self.high, self.can_be_off = low, high, can_be_off

    def convert(self, text: str) -> object:
        if self.can_be_off and text.lower() in ("off", "0"):
            return None
        match = _DURATION.fullmatch(text.lower())
        if match is None:
            raise ValueError(text)
        amount, unit = float(match["amount"]), match["unit"]
        return amount / 1000 if unit == "ms" else amount * _UNIT_SECONDS[unit]

    def accepts(self, value: object) -> bool:
        if value is None:
            return self.can_be_off
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return math.isfinite(value) and self.low <= value <= self.high

    def describe(self) -> str:
        off = "; 0 or off for none" if self.can_be_off else ""
        return (
            f"a duration from {seconds_text(self.low)} to {seconds_text(self.high)} "
            f"(seconds, or a number with ms, s, m or h){off}"
        )

    def show(self, value: object) -> str:
        return seconds_text(float(value)) if isinstance(value, int | float) else "off"


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


class Flag(Kind):
    """On or off: 1, true, yes, on or 0, false, no, off (any case)."""

    __slots__ = ()
    type_name = "boolean"

    def convert(self, text: str) -> object:
        lowered = text.lower()
        if lowered not in _TRUE + _FALSE:
            raise ValueError(text)
        return lowered in _TRUE

    def accepts(self, value: object) -> bool:
        return isinstance(value, bool)

    def describe(self) -> str:
        return "1, true, yes or on; or 0, false, no or off"

    def show(self, value: object) -> str:
        return "1" if value else "0"


class Choice(Kind):
    """One of ``options``, in any case (kept in lowercase)."""

    __slots__ = ("options",)
    type_name = "choice"

    def __init__(self, options: tuple[str, ...]) -> None:
        self.options = options

    def convert(self, text: str) -> object:
        return text.lower()

    def accepts(self, value: object) -> bool:
        return value in self.options

    def describe(self) -> str:
        return "one of " + ", ".join(self.options)

    def show(self, value: object) -> str:
        return str(value)


class Url(Kind):
    """A URL whose scheme is one of ``schemes`` (``postgresql+psycopg`` counts as
    ``postgresql`` with ``driver_suffix``); passwords are masked when shown."""

    __slots__ = ("driver_suffix", "schemes")
    type_name = "URL"

    def __init__(self, schemes: tuple[str, ...], *, driver_suffix: bool = False) -> None:
        self.schemes, self.driver_suffix = schemes, driver_suffix

    def convert(self, text: str) -> object:
        return text

    def accepts(self, value: object) -> bool:
        if value is None:
            return True
        if not isinstance(value, str):
            return False
        match = re.fullmatch(r"([a-z][a-z0-9+.-]*)://\S*", value)
        if match is None:
            return False
        scheme = match[1]
        if self.driver_suffix:
            scheme = scheme.partition("+")[0]
        return scheme in self.schemes

    def describe(self) -> str:
        shown = [f"{scheme}://" for scheme in self.schemes]
        if self.driver_suffix:
            shown += [f"{scheme}+DRIVER://" for scheme in self.schemes]
        return "a URL starting " + " or ".join(shown)

    def show(self, value: object) -> str:
        return "unset" if value is None else mask_secret(str(value))


class Location(Kind):
    """A file system path; with ``optional``, None (unset) is acceptable too."""

    __slots__ = ("optional",)
    type_name = "path"

    def __init__(self, *, optional: bool = False) -> None:
        self.optional = optional

    def convert(self, text: str) -> object:
        return Path(text)

    def accepts(self, value: object) -> bool:
        return isinstance(value, Path) or (value is None and self.optional)

    def describe(self) -> str:
        return "a file system path"

    def show(self, value: object) -> str:
        return "unset" if value is None else str(value)


def seconds_text(seconds: float) -> str:
    """``seconds`` in the largest unit that writes it whole: 3600.0 -> 1h, 0.5 -> 500ms."""
    if seconds == 0:
        return "0s"
    for unit, size in (("h", 3600.0), ("m", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    if (seconds * 1000).is_integer():
        return f"{int(seconds * 1000)}ms"
    return f"{seconds:g}s"


def mask_secret(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@`` replaced by ``***``."""
    return re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
