"""One line for a configuration mistake in `lzn fit`, instead of the parser's usage and dump.

jsonargparse reports a bad key inside a class's arguments as a tree: one "Parser key" level per
nesting, the alternatives of each union it tried, and the values it was given. The mistake is
the first error in it that is not one of those alternatives failing: `one_line` finds it and the
keys above it, and names both as a user writes them (`model.init_args.recipe.ema`).
"""

from __future__ import annotations

import dataclasses
import re

from lzn.class_path import import_class

_KEY = re.compile(r'^Parser key "(?P<key>[^"]+)":')
_CLASS = re.compile(r"^- Problem with given class_path '(?P<path>[^']+)':")
_OPTION = re.compile(r"^Option '(?P<key>[^']+)' is not accepted")
_EXPECTED = re.compile(
    r"^Expected a (<class '(?P<cls>\w+)'>|typing\.(?P<type>.+?))(\. Got value: (?P<value>.*))?$"
)
# Keys users put in the wrong place, and where they belong.
_MOVED = {
    "recipe.batch_size": "the batch size is the data module's: data.init_args.batch_size "
    "(the global batch over all devices)",
}
_GIVEN = re.compile(r"^Given value: (?P<value>.*)$")
# Lines that say which alternatives were tried, not what is wrong.
_TRIED = re.compile(
    r"^(Does not validate against any of the Union subtypes|Subtypes: |Errors:|"
    r"- Expected a <class 'NoneType'>|Given value type: |Given value: )"
)


def one_line(message: str) -> str:
    """The parser's message as one line: the mistake with its dotted key."""
    lines = [(len(raw) - len(raw.lstrip()), raw.strip()) for raw in message.splitlines()]
    lines = [(indent, text) for indent, text in lines if text]
    if not lines:
        return "invalid configuration"
    path: list[tuple[int, str]] = []  # (indent, key) of the keys above the current line
    for i, (indent, text) in enumerate(lines):
        while path and path[-1][0] >= indent:
            path.pop()
        key = _KEY.match(text)
        if key:
            path.append((indent, key["key"]))
            continue
        cls = _CLASS.match(text)
        if cls:
            if path and not _is_dataclass(cls["path"]):
                path.append((indent, "init_args"))
            continue
        if _TRIED.match(text):
            continue
        where = ".".join(k for _, k in path)
        return _described(where, text.removeprefix("- "), lines[i + 1 :])
    return lines[0][1]


def _described(where: str, text: str, rest: list[tuple[int, str]]) -> str:
    option = _OPTION.match(text)
    if option:
        key = f"{where}.{option['key']}" if where else option["key"]
        moved = next((hint for end, hint in _MOVED.items() if key.endswith(end)), None)
        return f"{key}: unknown key" + (f"; {moved}" if moved else "")
    expected = _EXPECTED.match(text)
    if expected:
        value = expected["value"]
        if value is None:  # the value follows the alternatives
            given = (_GIVEN.match(t) for _, t in rest)
            value = next((g["value"] for g in given if g), None)
        got = f", got {value!r}" if value is not None else ""
        return f"{where}: expected {expected['cls'] or expected['type']}{got}"
    return f"{where}: {text}" if where else text


def _is_dataclass(path: str) -> bool:
    try:
        return dataclasses.is_dataclass(import_class(path, object, what="", base_name=""))
    except ValueError:  # not importable: not ours to describe
        return False
