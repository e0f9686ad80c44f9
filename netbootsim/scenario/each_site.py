"""``each_site: true``: one entry of a scenario written once for every site.

A ``multi-site`` topology of 50 sites has 50 boot hosts, 50 DHCP servers and 100 fleet
groups that differ only in their site's name. An entry of ``topology.hosts``,
``services``, ``fleet`` or ``faults`` marked ``each_site: true`` stands for one copy
per site (``s01``, ``s02``... as :func:`~netbootsim.topology.site_names` names them), in
the entry's place, with ``{site}`` in its name and in every text inside it replaced by
that site's name::

    hosts:
      - {name: "{site}-boot", each_site: true, attach: "{site}-rtr"}
    services:
      "dhcp-{site}": {kind: dhcp, host: "{site}-boot", each_site: true}
    fleet:
      - {name: "servers-{site}", each_site: true, racks: ["{site}-rack01"],
         dhcp: "dhcp-{site}", ...}

A key of a ``costs:`` table (``services``, ``servers``, ``links``, ``egress_gb``)
holding ``{site}`` prices every site's copy alike: ``"edge-{site}": 2000``.
``${site}`` (an iPXE setting in a script) is left alone.

Expansion runs after ``--set`` and a variant's overrides (which address the entries as
the file writes them: ``fleet[0].server`` is the template's, hence every site's) and
before validation. Problems in a copy are reported at its template's line and path
(:attr:`~.source.Origin.expanded`).
"""

from __future__ import annotations

import re
from typing import Any

from ..topology import site_names
from .source import Origin, Path_

__all__ = ["expand_sites", "PLACEHOLDER"]

#: What a copy's site name replaces.
PLACEHOLDER = "{site}"
_PATTERN = re.compile(r"(?<!\$)\{site\}")  # not ${site}: an iPXE setting
#: Sections whose entries may be ``each_site``: (path to the list or mapping, names
#: the copies by).
_LISTS: tuple[tuple[Path_, str | None], ...] = (
    (("topology", "hosts"), "name"), (("fleet",), "name"), (("faults",), None))
_COST_TABLES = ("services", "servers", "links", "egress_gb")


def _fill(value: Any, site: str) -> Any:
    """``value`` (plain YAML data) with ``{site}`` replaced in every text."""
    if isinstance(value, str):
        return _PATTERN.sub(site, value)
    if isinstance(value, dict):
        return {k: _fill(v, site) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, site) for v in value]
    return value


def _has(text: Any) -> bool:
    return isinstance(text, str) and _PATTERN.search(text) is not None


def _at(tree: Any, path: Path_) -> Any:
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _marked(entry: Any, path: Path_, issues: list[tuple[Path_, str]]) -> bool:
    """Whether ``entry`` is a template; a non-boolean ``each_site`` is a problem."""
    if not isinstance(entry, dict) or "each_site" not in entry:
        return False
    flag = entry["each_site"]
    if not isinstance(flag, bool):
        issues.append(((*path, "each_site"), f"must be true or false, got {flag!r}"))
        return False
    if not flag:
        del entry["each_site"]  # written out: the entry as it stands
    return flag


def _sites(tree: dict) -> list[str] | None:
    """The sites of the scenario's topology, or ``None`` when it is not multi-site."""
    topo = tree.get("topology")
    if not isinstance(topo, dict) or topo.get("shape") != "multi-site":
        return None
    n = topo.get("sites")
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        return None  # (validation says what is wrong with it)
    return site_names(n)


def expand_sites(tree: dict, origin: Origin) -> list[tuple[Path_, str]]:
    """Replace every ``each_site`` entry of ``tree`` by its copies, one per site.

    Args:
        tree: plain scenario data, overrides applied; changed in place.
        origin: where the file's fields are; the copies' and moved entries' paths are
            recorded in its :attr:`~.source.Origin.expanded`.

    Returns:
        ``(path, message)`` problems (paths in the tree as expanded): an ``each_site``
        entry without a multi-site topology, a template whose name lacks ``{site}``,
        ``{site}`` outside a template.
    """
    issues: list[tuple[Path_, str]] = []
    sites = _sites(tree)
    for path, name_key in _LISTS:
        entries = _at(tree, path)
        if not isinstance(entries, list):
            continue
        out: list[Any] = []
        for i, entry in enumerate(entries):
            here = (*path, i)
            marked = _marked(entry, here, issues)
            if not marked or sites is None:
                if len(out) != i:  # moved by the copies before it
                    origin.expanded[(*path, len(out))] = here
                if marked:  # (no sites to copy it for)
                    issues.append(((*path, len(out), "each_site"), _NO_SITES))
                    entry = {k: v for k, v in entry.items() if k != "each_site"}
                out.append(entry)
                continue
            if name_key is not None and not _has(entry.get(name_key)):
                issues.append(((*path, len(out), name_key), _no_placeholder(name_key)))
            body = {k: v for k, v in entry.items() if k != "each_site"}
            for site in sites:
                origin.expanded[(*path, len(out))] = here
                out.append(_fill(body, site))
        parent = _at(tree, path[:-1]) if len(path) > 1 else tree
        parent[path[-1]] = out
    services = tree.get("services")
    if isinstance(services, dict):
        tree["services"] = _expand_services(services, sites, origin, issues)
    costs = tree.get("costs")
    if isinstance(costs, dict):
        for table in _COST_TABLES:
            prices = costs.get(table)
            if isinstance(prices, dict) and any(_has(k) for k in prices):
                costs[table] = _expand_keys(prices, ("costs", table), sites, origin, issues)
    if not any(m == _NO_SITES for _, m in issues):  # (else: said once per template)
        issues += _left_over(tree)
    return issues


def _expand_services(services: dict, sites: list[str] | None, origin: Origin,
                     issues: list[tuple[Path_, str]]) -> dict:
    out: dict[str, Any] = {}
    for name, spec in services.items():
        here = ("services", name)
        if not _marked(spec, here, issues):
            out[name] = spec
            continue
        body = {k: v for k, v in spec.items() if k != "each_site"}
        if sites is None or not _has(name):
            issues.append(((*here, "each_site") if sites is None else here,
                           _NO_SITES if sites is None else
                           "a service with each_site: true needs {site} in its name "
                           "(its copies' names must differ), e.g. dhcp-{site}"))
            out[name] = body
            continue
        for site in sites:
            copy_name = _PATTERN.sub(site, name)
            if copy_name in out or copy_name in services:
                issues.append((here, f"its copy for site {site} would be named "
                               f"{copy_name!r}, as another service is"))
                continue
            origin.expanded[("services", copy_name)] = here
            out[copy_name] = _fill(body, site)
    return out


def _expand_keys(prices: dict, path: Path_, sites: list[str] | None, origin: Origin,
                 issues: list[tuple[Path_, str]]) -> dict:
    out: dict[str, Any] = {}
    for key, price in prices.items():
        if not _has(key):
            out[key] = price
        elif sites is None:
            issues.append(((*path, key), "{site} in a price's name needs a multi-site "
                           "topology (topology.shape: multi-site, sites: N)"))
            out[key] = price
        else:
            for site in sites:
                copy_key = _PATTERN.sub(site, key)
                origin.expanded[(*path, copy_key)] = (*path, key)
                out[copy_key] = price
    return out


def _left_over(tree: dict) -> list[tuple[Path_, str]]:
    """``{site}`` left in a text outside any template (variants' texts excepted)."""
    found: list[tuple[Path_, str]] = []

    def walk(value: Any, path: Path_) -> None:
        if _has(value):
            found.append((path, f"{PLACEHOLDER} is replaced only inside an entry marked "
                                "each_site: true (a host, service, fleet group or fault)"))
        elif isinstance(value, dict):
            for k, v in value.items():
                if _has(k):
                    found.append(((*path, k), f"{PLACEHOLDER} in a name is replaced only in "
                                  "an entry marked each_site: true"))
                else:
                    walk(v, (*path, k))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, (*path, i))

    for section, value in tree.items():
        if section != "variants":
            walk(value, (section,))
    return found


def _no_placeholder(field: str) -> str:
    return (f"an entry with each_site: true needs {PLACEHOLDER} in its {field} (its "
            f"copies' {field}s must differ), e.g. \"servers-{PLACEHOLDER}\"")


_NO_SITES = ("each_site: true needs a multi-site topology (topology.shape: multi-site, "
             "sites: N)")
