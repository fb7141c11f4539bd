"""Frozen dataclasses to and from their JSON form (nested dicts), checking every key and type.

    from_dict(Cls, data, path)  -> a Cls; a ValueError names the dotted path of any bad field
    to_dict(obj)                -> the JSON form: dicts, lists, numbers, strings, booleans, None

The field annotations are the schema: bool, int, float (an int is accepted), str, dict (any JSON
object, kept as is), dict[str, T] (an object whose values are T), Literal[...] (one of the
values), tuple[T, ...] (a list), a dataclass (a nested dict), `X | None` (null), a plain class
(an instance of it, which no JSON holds), and a union of dataclasses that each name themselves
with a class attribute `type` (the dict's "type" key chooses one). A key left out
takes the field's default; a field without one is required. Two field metadata mark a layout:
`INLINE` (the nested dataclass's keys sit beside the field's siblings, not under its name) and
`CHECK` (a function that checks a free-form value, e.g. a dict, and raises ValueError).
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any

INLINE = "inline"
CHECK = "check"
TAG = "type"  # the key that names the member of a union of dataclasses


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _tag(cls: type) -> str | None:
    value = cls.__dict__.get(TAG)
    return value if isinstance(value, str) else None


def _keys(cls: type) -> list[str]:
    """The dict keys of a dataclass, inline fields' keys in their place."""
    keys = []
    for field in dataclasses.fields(cls):
        if field.metadata.get(INLINE):
            keys += _keys(typing.get_type_hints(cls)[field.name])
        else:
            keys.append(field.name)
    return keys


def _describe(hint: Any) -> str:
    if hint is type(None):
        return "null"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a list of {_describe(typing.get_args(hint)[0])}"
    if typing.get_origin(hint) is dict:
        return f"a mapping to {_describe(typing.get_args(hint)[1])}"
    if typing.get_origin(hint) is typing.Literal:
        return "one of " + ", ".join(repr(v) for v in typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return "a mapping"
    return hint.__name__


def _mismatch(path: str, hint: Any, value: Any) -> ValueError:
    return ValueError(f"{path}: expected {_describe(hint)}, got {value!r}")


def from_dict(cls: type, data: object, path: str = "", defaults: object = None) -> Any:
    """The `cls` that `data` describes; keys it leaves out come from `defaults` (an instance of
    `cls`) or else from the field defaults. `path` names `data` in error messages."""
    if not isinstance(data, Mapping):
        raise _mismatch(path or "config", cls, data)
    known = _keys(cls)
    for key in data:
        if key not in known:
            raise ValueError(f"unknown key {_join(path, str(key))} (known: {', '.join(known)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for field in dataclasses.fields(cls):
        default = _default(field, defaults)
        base = default if dataclasses.is_dataclass(default) else None  # fills a partial dict
        if field.metadata.get(INLINE):
            inner = {k: data[k] for k in _keys(hints[field.name]) if k in data}
            values[field.name] = from_dict(hints[field.name], inner, path, base)
        elif field.name in data:
            where = _join(path, field.name)
            values[field.name] = _read(hints[field.name], data[field.name], where, base)
            check = field.metadata.get(CHECK)
            if check is not None:
                _named(where, check, values[field.name])
        elif default is dataclasses.MISSING:
            raise ValueError(f"missing key {_join(path, field.name)}")
        else:
            values[field.name] = default
    return _named(path, cls, **values)


def _default(field: dataclasses.Field, defaults: object) -> Any:
    if defaults is not None:
        return getattr(defaults, field.name)
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return field.default  # MISSING when the field has none


def _named(path: str, make, *args, **kwargs):
    """make(...), with the path in front of the ValueError it raises (its own checks)."""
    try:
        return make(*args, **kwargs)
    except ValueError as e:
        raise ValueError(f"{path}: {e}" if path else str(e)) from None


def _read(hint: Any, value: object, path: str, defaults: object = None) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        members = [h for h in typing.get_args(hint) if h is not type(None)]
        if value is None and len(members) < len(typing.get_args(hint)):
            return None
        tagged = {_tag(m): m for m in members if dataclasses.is_dataclass(m) and _tag(m)}
        if tagged and len(tagged) == len(members):
            return _read_tagged(tagged, value, path)
        for member in members:
            if _has_shape(member, value):
                return _read(member, value, path, defaults)
        raise _mismatch(path, hint, value)
    if not _has_shape(hint, value):
        raise _mismatch(path, hint, value)
    if typing.get_origin(hint) is tuple:
        item = typing.get_args(hint)[0]  # tuple[T, ...]
        return tuple(_read(item, v, f"{path}[{i}]") for i, v in enumerate(value))
    if typing.get_origin(hint) is dict:
        item = typing.get_args(hint)[1]  # dict[str, T]
        return {k: _read(item, v, _join(path, k)) for k, v in value.items()}
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path, defaults)
    if hint is dict:
        return copy.deepcopy(value)
    return float(value) if hint is float else value


def _has_shape(hint: Any, value: object) -> bool:
    """Whether `value` is of the JSON kind `hint` reads (its items are checked later)."""
    if typing.get_origin(hint) is tuple:
        return isinstance(value, (list, tuple))
    if typing.get_origin(hint) is dict:
        return isinstance(value, Mapping) and all(isinstance(k, str) for k in value)
    if typing.get_origin(hint) is typing.Literal:
        return any(value == v and type(value) is type(v) for v in typing.get_args(hint))
    if dataclasses.is_dataclass(hint):
        return isinstance(value, Mapping)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, hint)


def _read_tagged(members: dict[str, type], value: object, path: str) -> Any:
    if not isinstance(value, Mapping):
        raise ValueError(f"{path}: expected a mapping, got {value!r}")
    tag = value.get(TAG)
    if not isinstance(tag, str) or tag not in members:
        listed = ", ".join(repr(t) for t in members)
        raise ValueError(f"{_join(path, TAG)}: expected one of {listed}, got {tag!r}")
    return from_dict(members[tag], {k: v for k, v in value.items() if k != TAG}, path)


def to_dict(obj: object) -> dict:
    """The JSON form of a dataclass instance (the inverse of `from_dict`)."""
    out = {}
    tag = _tag(type(obj))
    if tag is not None:
        out[TAG] = tag
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if field.metadata.get(INLINE):
            out.update(to_dict(value))
        else:
            out[field.name] = _write(value)
    return out


def _write(value: object) -> Any:
    if dataclasses.is_dataclass(value):
        return to_dict(value)
    if isinstance(value, (list, tuple)):
        return [_write(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _write(v) for k, v in value.items()}
    return copy.deepcopy(value)
