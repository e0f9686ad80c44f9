"""YAML and text from users, read within limits: no file can hang the machine or eat its memory.

Every YAML document a user gives — a scenario, an inventory, a ``--set`` value, a lab
configuration — is read through :func:`safe_yaml`, and every text file through
:func:`read_text_capped`. The limits are far above what a real file needs and far
below what would hurt: a 400-byte "billion laughs" alias bomb (nine anchors, each a
list of nine aliases to the previous) expands to 9**9 values and is refused before
anything is expanded; 2,000 levels of nested lists are refused before Python's
recursion limit is reached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode

__all__ = ["safe_yaml", "read_text_capped", "YamlLimit", "YamlInternal", "MAX_DEPTH", "MAX_VALUES",
           "MAX_ALIASES", "MAX_YAML_BYTES", "MAX_CSV_BYTES"]

#: Nesting levels of mappings and lists (the deepest shipped scenario nests 7).
MAX_DEPTH = 64
#: Values (mappings, lists and scalars) a document may hold once its aliases are
#: expanded: 2 million, ~200 MB as Python objects. A 10,000-row inline inventory of 10
#: columns holds 210,000; larger inventories belong in a CSV file.
MAX_VALUES = 2_000_000
#: Alias uses (``*name``) in one document; hand-written files use a handful.
MAX_ALIASES = 10_000
#: Size of a YAML file (a scenario, a YAML inventory), bytes: 4 MiB. Without aliases a
#: value takes at least two bytes of text (``[a,a,...]``), so no file within this size
#: holds much more than :data:`MAX_VALUES` values — which is why a document that
#: defines no anchor needs no count. The largest shipped scenario is ~4 KiB.
MAX_YAML_BYTES = 4 * 2**20
#: Size of a CSV inventory, bytes (64 MiB: a 500,000-row inventory of ~120-byte rows).
MAX_CSV_BYTES = 64 * 2**20


class YamlLimit(MarkedYAMLError):
    """A document over :data:`MAX_VALUES` or :data:`MAX_ALIASES` once expanded."""


def _expanded_size(root: Any) -> None:
    """Refuse a composed document whose aliases expand past the limits (or loop).

    Counts values bottom-up over the node graph, once per distinct node (so the count
    costs as much as the text, not as much as the expansion).

    Raises:
        YamlLimit: at the line of the smallest node over the limit (the bomb's core).
    """
    size: dict[int, int] = {}
    aliases = 0
    stack: list[tuple[Any, bool]] = [(root, False)]
    on_path: set[int] = set()
    over: list[Any] = []
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        kids = _children(node)
        if children_done:
            on_path.discard(key)
            total = 1 + sum(size[id(k)] for k in kids)
            size[key] = total
            if total > MAX_VALUES:
                over.append(node)
            continue
        if key in size:
            continue
        on_path.add(key)
        stack.append((node, True))
        seen_here: set[int] = set()
        for kid in kids:
            kid_id = id(kid)
            if kid_id in on_path:
                raise YamlLimit(None, None, "an alias refers to a value that contains it "
                                "(a loop): not allowed", kid.start_mark)
            if kid_id in size or kid_id in seen_here:
                aliases += 1
                if aliases > MAX_ALIASES:
                    raise YamlLimit(None, None, f"more than {MAX_ALIASES:,} alias uses "
                                    "(the limit)", kid.start_mark)
            else:
                seen_here.add(kid_id)
                stack.append((kid, False))
    if over:
        core = min(over, key=lambda n: size[id(n)])
        raise YamlLimit(None, None, f"its aliases expand the document to {size[id(root)]:,}"
                        f" values, past the limit of {MAX_VALUES:,} (an alias bomb?)",
                        core.start_mark)


def _children(node: Any) -> list[Any]:
    if isinstance(node, MappingNode):
        return [x for kv in node.value for x in kv]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def safe_yaml(typ: str = "rt", **kwargs: Any) -> YAML:
    """A ruamel.yaml loader with the limits above: depth, expanded size, alias uses.

    Errors are ruamel.yaml's ``MarkedYAMLError`` (with a line): ``YamlLimit`` or
    ``MaxDepthExceededError``.
    """
    yaml = _LimitedYAML(typ=typ, **kwargs)
    yaml.max_depth = MAX_DEPTH
    yaml.Constructor = _limited(yaml.Constructor)
    return yaml


class YamlInternal(YAMLError):
    """ruamel.yaml failed inside on malformed text (not one of its own errors)."""


class _LimitedYAML(YAML):
    """ruamel.yaml's ``YAML``, whose ``load`` raises only ``YAMLError`` on bad text.

    The library raises its own errors for what it expects, but on some malformed text
    its internals fail with a ``KeyError`` or the like (the fuzzer found ``%YAML 9.9``:
    ``KeyError: (9, 9)`` in the resolver). Those become :class:`YamlInternal`.
    """

    def load(self, stream: Any) -> Any:  # noqa: D102 - ruamel.yaml's API
        try:
            return super().load(stream)
        except YAMLError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError,
                AssertionError, RecursionError) as e:
            raise YamlInternal(f"text the YAML reader cannot parse (ruamel.yaml failed "
                               f"with {type(e).__name__}: {e}); is there a stray %-directive, "
                               f"tag or control character?") from None


def _get_single_data(self: Any) -> Any:
    """``get_single_data`` of ruamel.yaml's constructors, counting before constructing."""
    node = self.composer.get_single_node()
    if node is None:
        return None
    if getattr(self.composer, "anchors", True):  # no anchor, no alias: nothing expands
        _expanded_size(node)
    return self.construct_document(node)


_LIMITED: dict[type, type] = {}


def _limited(base: type) -> type:
    """``base`` (a ruamel.yaml constructor class) with the expansion count (one per base)."""
    if base not in _LIMITED:
        _LIMITED[base] = type(f"Limited{base.__name__}", (base,),
                              {"get_single_data": _get_single_data})
    return _LIMITED[base]


def read_text_capped(path: str | Path, limit: int, what: str) -> str:
    """A UTF-8 text file of at most ``limit`` bytes.

    Raises:
        ValueError: too large (naming the limit), not UTF-8, or unreadable.
    """
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except OSError as e:
        raise ValueError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if len(raw) > limit:
        raise ValueError(f"{what} {path} is larger than {limit // 2**20} MiB (the limit)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{what} {path} is not UTF-8 text ({e.reason} at byte "
                         f"{e.start})") from None
