"""Value checks shared by the sections of an evaluation config: a bad value is a ValueError that
names its key (the command adds the file's path)."""

from __future__ import annotations

from lzn.integrators import SAMPLERS


def number(value, name: str) -> float | int:
    """`value` as a number, or a ValueError naming `name`."""
    # YAML 1.1 (PyYAML) reads 1e-3 without a dot as a string: accept it as the number meant.
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return value


def numbers(settings: dict, *keys: str) -> None:
    """Read the settings `keys` (a number, a list of numbers or null) as numbers, in place."""
    for key in keys:
        value = settings[key]
        if isinstance(value, list):
            settings[key] = [number(v, key) for v in value]
        elif value is not None:
            settings[key] = number(value, key)


def positive_ints(values, name: str, *, allow_none: bool = False) -> None:
    """A ValueError naming `name` unless every value (one, or a list) is an integer >= 1."""
    for v in values if isinstance(values, list) else [values]:
        if not (v is None and allow_none) and (not isinstance(v, int) or v < 1):
            or_null = " or null" if allow_none else ""
            raise ValueError(f"{name} must be positive integers{or_null}, got {v!r}")


def sampler(value, section: str) -> None:
    """A ValueError unless `value` names one of the decoder's samplers (`lzn.integrators`)."""
    try:
        SAMPLERS.lookup(value)
    except ValueError:
        raise ValueError(f"{section} sampler must be {SAMPLERS.listing()}, got {value!r}") from None
