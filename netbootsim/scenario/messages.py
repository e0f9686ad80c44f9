"""Pydantic validation errors as scenario problems a person can act on.

Pydantic's ``loc`` tuples name union members (``services.tftp1.tftp.max_sessions``) and
its messages talk about types (``Input should be greater than or equal to 1``). Here
``loc`` is walked against the data to get the field path the user wrote, and each
error type gets a message in the user's terms.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import ValidationError

from ..services.registry import KINDS
from .schema import fields_at

__all__ = ["error_problems", "suggest"]

#: How a field's allowed values are named in messages ("unknown boot path 'pex'").
_LABELS = {
    "shape": "topology shape",
    "boot": "boot path",
    "kind": "kind",
    "model": "model",
    "engine": "engine",
}

_TYPES = {
    "int_type": "an integer", "int_parsing": "an integer", "int_from_float": "an integer",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "text", "dict_type": "a mapping",
    "model_type": "a mapping", "model_attributes_type": "a mapping", "list_type": "a list",
}


def suggest(word: Any, choices: list[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or nothing."""
    close = difflib.get_close_matches(str(word), choices, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _user_path(data: Any, loc: tuple) -> tuple:
    """``loc`` as the path the user wrote: union tags and ``[key]`` markers removed."""
    path: list[Any] = []
    node = data
    for i, key in enumerate(loc):
        if key == "[key]":
            continue
        if isinstance(node, dict) and key in node:
            path.append(key)
            node = node[key]
        elif isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node):
            path.append(key)
            node = node[key]
        elif i == len(loc) - 1:
            path.append(key)
        # else: a union member's name (pydantic puts the tag in loc): not the user's
    return tuple(path)


def _expected(ctx: dict) -> str:
    """Pydantic's ``"'a', 'b' or 'c'"`` as ``a, b, c``."""
    text = str(ctx.get("expected", ctx.get("expected_tags", "")))
    return text.replace(" or ", ", ").replace("'", "")


def _message(err: dict, data: Any, path: tuple) -> str:
    t = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    name = path[-1] if path else ""
    if t == "missing":
        return "required section missing" if len(path) == 1 else "required field missing"
    if t == "extra_forbidden":
        allowed = fields_at(data, path[:-1]) or []
        return (f"unknown field {name!r}{suggest(name, allowed)}; expected one of: "
                f"{', '.join(allowed)}")
    if t == "literal_error":
        if isinstance(value, str):
            label = _LABELS.get(str(name), "value")
            return f"unknown {label} {value!r}; expected one of: {_expected(ctx)}"
        return f"must be one of: {_expected(ctx)}; got {value!r}"
    if t == "union_tag_invalid":
        tag = value.get("kind") if isinstance(value, dict) else ctx.get("tag")
        return f"unknown kind {tag!r}; expected one of: {_expected(ctx)}"
    if t == "union_tag_not_found":
        return f"required field 'kind' missing; one of: {', '.join(KINDS)}"
    if t in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        op = {"greater_than_equal": ("ge", "≥"), "greater_than": ("gt", ">"),
              "less_than": ("lt", "<"), "less_than_equal": ("le", "≤")}[t]
        return f"must be {op[1]} {ctx.get(op[0])}; got {value!r}"
    if t == "too_short":
        return "must not be empty"
    if t == "string_too_short":
        return "must not be empty"
    if t in _TYPES:
        return f"expected {_TYPES[t]}, got {value!r}"
    if t in ("unit", "value_error", "dist"):
        return str(err["msg"]).removeprefix("Value error, ")
    return str(err["msg"])


def error_problems(error: ValidationError, data: Any,
                   prefix: tuple = ()) -> list[tuple[tuple, str]]:
    """Each error of ``error`` as ``(field path, message)``.

    Args:
        error: from validating ``data`` (or the part of it at ``prefix``).
        data: the whole scenario tree, to walk ``loc`` against.
        prefix: path of the validated part within ``data``.

    Returns:
        One ``(path, message)`` per error, in pydantic's order; a default left unset
        because another field failed (a model's ``workers`` when ``model`` is wrong) is
        that field's error, not one of its own.
    """
    out = []
    for err in error.errors(include_url=False):
        if err["type"] == "default_factory_not_called":
            continue
        loc = prefix + tuple(err["loc"])
        if err["type"] == "dist":  # the part of the distribution that is wrong
            loc += tuple((err.get("ctx") or {}).get("sub") or ())
        path = _user_path(data, loc)
        out.append((path, _message(err, data, path)))
    return out
