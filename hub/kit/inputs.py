"""Checking what users send: every bad input becomes an InputError with a message meant for them."""
from __future__ import annotations

import math

from ..errors import InputError


def number(value, name: str, low: float, high: float) -> float:
    """A finite number in [low, high], or an InputError naming the control."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}.") from None
    if not math.isfinite(value):
        raise InputError(f"{name} must be a finite number between {low:g} and {high:g}, not {value}.")
    if not low <= value <= high:
        raise InputError(f"{name} must be between {low:g} and {high:g}, not {value:g}.")
    return value


def integer(value, name: str, low: int, high: int) -> int:
    """A whole number in [low, high], or an InputError naming the control."""
    value = number(value, name, low, high)
    if value != int(value):
        raise InputError(f"{name} must be a whole number, not {value:g}.")
    return int(value)


def one_of(value, name: str, choices: list[str]) -> str:
    """`value` if it is one of `choices` (empty means the only choice, when there is one), else an InputError."""
    if value in (None, "") and len(choices) == 1:
        return choices[0]
    if value not in choices:
        raise InputError(f"Unknown {name} {value!r}: choose one of {', '.join(map(str, choices))}.")
    return value
