"""The iPXE scripts a scenario embeds, linted before the run as ``netbootsim ipxe check`` does.

A misspelt command in a group's ``script:`` fails every server of the group, but only
when the script runs. Here every script the scenario carries in its text is read by
:mod:`netbootsim.ipxe.lint`: a group's ``script`` (against the iPXE build the group
runs: its ``build``, else its profile's), an image's ``script`` and an API's plain
``script`` (any group may fetch those: every command of iPXE), and a ``reprovision``
event's ``script`` (against its group's build). The lint's errors are
the scenario's errors; its warnings are warnings. A URI written out in full that names
no service or host of the scenario, or no declared image, is a warning too
(``_Names.problem``, asked by the lint for each such URI). A problem is located at the
file line of the script line (line by line in a ``script: |`` block, else the field's
own line).

Not linted: an API's ``templates`` and ``unknown`` (Jinja2 text, a script only once
rendered: :mod:`.api_checks` checks them) and a DHCP ``script`` (a URL, not a script).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..errors import Problem
from ..ipxe.lint import check_text
from ..profiles import PROFILES, profile_names
from ..services.registry import SCHEMES
from .source import Origin, format_path

__all__ = ["lint_scripts", "located"]


def located(origin: Origin, path: tuple, line: int, message: str) -> Problem:
    """A problem about line ``line`` (1-based; 0: the whole text) of the text at ``path``."""
    where, at = origin.text_line(path, line)
    return Problem(where, at, format_path(path), message)


def _group_build(g) -> str:
    """The build a group's iPXE runs: its own, else its profile's (as a machine picks it)."""
    names = profile_names(g.profile)
    profile = PROFILES.get(names[0][1]) if names else None
    return g.build or (profile.build if profile is not None else "all")


def lint_scripts(parts, origin: Origin) -> tuple[list[Problem], list[Problem]]:
    """Lint every embedded script: ``(errors, warnings)``, each a located problem.

    Args:
        parts: the scenario's valid parts (:class:`.checks.Parts`).
        origin: where each field came from.
    """
    from ..ipxe.spec import BUILDS

    todo: list[tuple[tuple, str, str]] = []  # (field path, text, build)
    for i, g in parts.fleet:
        if g.script is not None and g.boot != "pxe" and \
                (g.build is None or g.build in BUILDS):
            todo.append((("fleet", i, "script"), g.script, _group_build(g)))
    groups = dict((g.name, g) for _, g in parts.fleet)
    for i, ev in parts.events:  # a reprovision's new script, on its group's build
        g = groups.get(ev.group or "")
        if ev.kind == "reprovision" and ev.script is not None and g is not None and \
                g.boot != "pxe" and (g.build is None or g.build in BUILDS):
            todo.append((("events", i, "script"), ev.script, _group_build(g)))
    for name, img in parts.images.items():
        if img.script is not None:
            todo.append((("images", name, "script"), img.script, "all"))
    for name, svc in parts.services.items():
        if getattr(svc, "kind", "") == "api" and svc.script is not None and \
                not svc.templates and svc.inventory is None:
            todo.append((("services", name, "script"), svc.script, "all"))
    errors: list[Problem] = []
    warnings: list[Problem] = []
    names = _Names.of(parts)
    for path, text, build in todo:
        for f in check_text(text, format_path(path), build, uri_check=names.problem):
            what = f"script line {f.line}: " if f.line else ""
            if f.severity == "error":
                errors.append(located(origin, path, f.line, what + f.message))
            else:
                warnings.append(located(origin, path, f.line, f"warning: {what}{f.message}"))
    return errors, warnings


#: The service kinds that answer each scheme (as a machine resolves a URI), and the
#: balancers an ``http`` URI may name too.
_KINDS = {scheme: (*kinds, "lb") if scheme.startswith("http") else kinds
          for scheme, kinds in SCHEMES.items()}


@dataclass(frozen=True)
class _Names:
    """What a script's literal URIs may name: services by kind, at their names and hosts."""

    kinds_at: dict[str, frozenset[str]]  # a service's or its host's name -> kinds there
    images: frozenset[str]
    open: bool  # names outside the scenario may resolve (DNS servers, per-site names)

    @classmethod
    def of(cls, parts) -> _Names:
        at: dict[str, set[str]] = {}
        open_ = False
        for name, svc in parts.services.items():
            kind = str(getattr(svc, "kind", ""))
            host = str(getattr(svc, "host", "") or "")
            open_ |= kind == "dns" or "{" in name or "{" in host
            for n in {name.lower(), host.lower()} - {""}:
                at.setdefault(n, set()).add(kind)
        return cls({k: frozenset(v) for k, v in at.items()}, frozenset(parts.images), open_)

    def problem(self, uri: str) -> str:
        """Why no machine's fetch of ``uri`` (written out in full) is answered, or ``""``.

        The URI must name a service of its scheme, by the service's name or its host's
        (as :meth:`netbootsim.fleet.world.World.resolve` resolves it), and — unless an
        API answers there — a declared image by its last path segment; else every
        machine that runs the line fails it (a warning: the line may sit in a branch no
        machine takes). Hosts given by address, and any host when the scenario has DNS
        servers or per-site service names, are not checked.
        """
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        kinds = _KINDS.get(scheme)
        host = parts.hostname or ""  # (a trailing dot names no service: the run fails it)
        if kinds is None or not host or re.fullmatch(r"[0-9.]+", host) or ":" in host:
            return ""  # (other schemes: the lint and the run say what they say)
        there = self.kinds_at.get(host)
        if there is None:
            if self.open:
                return ""
            known = ", ".join(sorted(self.kinds_at)) or "none"
            return (f"{uri}: no service or host named {host!r} (the scenario's: {known}); "
                    "a machine running this line fails it")
        if not there & set(kinds):
            return (f"{uri}: no {scheme} service at {host!r} (there: "
                    f"{', '.join(sorted(there))}); a machine running this line fails it")
        file = parts.path.rsplit("/", 1)[-1]
        if file and "api" not in there and file not in self.images:
            return (f"{uri}: no image {file!r} in the scenario's images "
                    f"({', '.join(sorted(self.images)) or 'none'}); a machine running "
                    "this line fails it")
        return ""
