"""The image commands: ``imgfetch``, ``kernel``, ``chain``/``boot``, ``imgstat``, ``imgfree``.

hci/commands/image_cmd.c on top of usr/imgmgmt.c (download, acquire, imgstat) and
core/image.c (select, replace). Downloads go through ``world.fetch``; relative URIs
resolve against the current script's URI.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit, urlunsplit, uses_relative

from . import errors
from .interface import CommandShell, Handler, Proc, registrar
from .options import parse_timeout
from .script import STOP_SEQUENCE

if TYPE_CHECKING:
    from .state import ParamList
    from .world import Image

__all__ = ["IMAGE_COMMANDS", "acquire", "claim_params", "download", "redact_uri",
           "resolve_uri"]

#: Image commands by name (image_cmd.c ``image_commands``).
IMAGE_COMMANDS: dict[str, Handler] = {}
_command = registrar(IMAGE_COMMANDS)


def resolve_uri(base: str | None, ref: str) -> str:
    """``ref`` relative to ``base`` (core/uri.c resolve_uri [ipxe-src], RFC 3986 [rfc3986]).

    ``urljoin`` only resolves schemes it knows, so others (``tftp``) are resolved
    as if they were ``http`` and given their scheme back.
    """
    if base is None or urlsplit(ref).scheme:
        return ref
    scheme = urlsplit(base).scheme
    if scheme and scheme not in uses_relative:
        return scheme + urljoin("http" + base[len(scheme):], ref)[len("http"):]
    return urljoin(base, ref)


@functools.lru_cache(maxsize=4096)  # a fleet's servers download the same few URIs
def redact_uri(uri: str) -> str:
    """The URI as the download line shows it: no password, query or fragment.

    usr/imgmgmt.c imgdownload prints ``uri_string_redacted`` of the URI as typed
    (before resolution), without user, password, query and fragment.
    """
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))


# -- hci/commands/image_cmd.c, usr/imgmgmt.c, core/image.c ------------------------------
def claim_params(shell: CommandShell, uri_text: str) -> tuple[str, ParamList | None]:
    """Cut ``##params[=name]`` off a URI and claim that list (core/uri.c parse_uri).

    A claimed list leaves the shell's lists (core/params.c claim_parameters): it is
    sent once. A list that does not exist is ignored, as iPXE ignores it.
    """
    head, marker, tail = uri_text.partition("##params")
    if not marker:
        return uri_text, None
    name = tail[1:] if tail else None
    found = next((p for p in shell.params if p.name == name), None)
    if found is not None:
        shell.params.remove(found)
    return head, found


def download(shell: CommandShell, uri_text: str,
             timeout: float | None) -> Generator[Any, Any, tuple[int, Image | None]]:
    """Fetch and register an image (usr/imgmgmt.c imgdownload, core/monojob.c).

    Prints ``<uri>...`` then `` ok`` or the error, as the ROM's console shows. A
    scheme the build cannot open fails first with ``Could not start download``
    (core/open.c: ENOTSUP). A URI naming a parameter list (``##params``) is sent
    with ``world.post`` when the world has it, else fetched as a plain GET.
    """
    started = _download_start(shell, uri_text, timeout)
    if isinstance(started, int):
        return started, None
    fetch, uri, name = started
    return _download_end(shell, (yield from fetch), uri, name)


def _download_start(shell: CommandShell, uri_text: str, timeout: float | None
                    ) -> int | tuple[Generator[Any, Any, Any], str, str]:
    """:func:`download` up to its fetch: the fetch to run, the URI, the image's name.

    Or the status it failed with. Its caller runs the fetch, then :func:`_download_end`.
    """
    uri_text, params = claim_params(shell, uri_text)
    uri = resolve_uri(shell.cwuri, uri_text)
    name = urlsplit(uri).path.rpartition("/")[2]  # core/image.c image_set_uri: basename
    if not shell.build.opens(urlsplit(uri).scheme):
        shell.say(f"Could not start download: {errors.strerror(errors.ENOTSUP_OPEN)}\n")
        shell.detail = f"{shell.build.name} iPXE cannot open {urlsplit(uri).scheme}: URIs"
        return errors.ENOTSUP_OPEN
    shell.say(f"{redact_uri(uri_text)}...")
    post = getattr(shell.world, "post", None)
    if params is not None and post is not None:
        return post(uri, name=name, timeout=timeout, params=params), uri, name
    return shell.world.fetch(uri, name=name, timeout=timeout), uri, name


def _download_end(shell: CommandShell, got: Any, uri: str, name: str
                  ) -> tuple[int, Image | None]:
    """:func:`download` after its fetch: the status and the registered image."""
    if got.status:
        shell.say(f" {errors.strerror(got.status)}\n")
        shell.detail = got.reason
        return got.status, None
    if got.image is None:
        raise TypeError(f"world.fetch({uri!r}) returned status 0 without an image")
    shell.say(" ok\n")
    image = dataclasses.replace(got.image, name=name, uri=uri)
    shell.images.register(image)
    return errors.OK, image


def acquire(shell: CommandShell, name_or_uri: str,
            timeout: float | None) -> Generator[Any, Any, tuple[int, Image | None]]:
    """A registered image of that name, else a download (usr/imgmgmt.c imgacquire)."""
    image = shell.images.find(name_or_uri)
    if image is not None:
        return errors.OK, image
    return (yield from download(shell, name_or_uri, timeout))


def _imgsingle(shell: CommandShell, argv: list[str], *, always_download: bool,
               action: Callable[[CommandShell, Image, dict], Any] | None = None,
               verb: str = "", clear_cmdline: bool = False) -> Proc:
    """Acquire an image, name it, set its arguments, act (image_cmd.c imgsingle_exec)."""
    opts, args = shell.parse(argv)
    timeout = parse_timeout(str(opts["timeout"]), shell.say) if "timeout" in opts else 0
    if args:
        # acquire (or always download) inline, and the download's fetch run here: two
        # generator frames less for every server fetching an image
        image = None if always_download else shell.images.find(args[0])
        if image is None:
            started = _download_start(shell, args[0], timeout or None)
            if isinstance(started, int):
                return started
            fetch, uri, name = started
            rc, image = _download_end(shell, (yield from fetch), uri, name)
            if rc:
                return rc
    else:
        image = shell.images.current_selection()
        if image is None:
            shell.say("No image selected\n")
            return errors.OK  # image_cmd.c: rc is still 0 here (a quirk)
    assert image is not None
    if clear_cmdline:
        image.cmdline = None
    if "name" in opts:
        image.name = str(opts["name"])
    if len(args) > 1:
        image.cmdline = " ".join(args[1:])
    if opts.get("autofree") and not any(i is image for i in shell.images.autofree):
        shell.images.autofree.append(image)
    if action is not None:
        result = action(shell, image, opts)
        rc = result if isinstance(result, int) else (yield from result)
        if rc:
            shell.say(f"Could not {verb}: {errors.strerror(rc)}\n")
            return rc
    return errors.OK


def _select(shell: CommandShell, image: Image, opts: dict) -> int:
    """core/image.c image_select: unselect all, then select if executable."""
    shell.images.selected = None
    if not image.executable:
        return errors.ENOEXEC_IMAGE
    shell.images.selected = image
    return errors.OK


def _exec(shell: CommandShell, image: Image, opts: dict) -> int | Proc:
    """image_cmd.c imgexec: run now, or (``--replace``) in place of the current script."""
    if not opts.get("replace"):
        return shell.exec_image(image)
    if shell.frame is None:  # core/image.c image_replace: no current image
        return errors.ENOTTY_IMAGE
    if not image.executable:
        return errors.ENOEXEC_IMAGE
    shell.frame.replacement = image
    shell.stop = STOP_SEQUENCE
    return errors.OK


@_command("imgfetch", "module", "initrd")
def imgfetch(shell: CommandShell, argv: list[str]) -> Proc:
    """``imgfetch <uri> [args...]``: always downloads (imgdownload_string)."""
    return _imgsingle(shell, argv, always_download=True)


@_command("imgselect", "imgload", "kernel")
def imgselect(shell: CommandShell, argv: list[str]) -> Proc:
    """``kernel <uri|image> [args...]``: acquire and select."""
    return _imgsingle(shell, argv, always_download=False, action=_select, verb="select")


@_command("imgargs")
def imgargs(shell: CommandShell, argv: list[str]) -> Proc:
    """``imgargs <uri|image> [args...]``: replace an image's command line."""
    return _imgsingle(shell, argv, always_download=False, clear_cmdline=True)


@_command("imgexec", "chain", "boot")
def imgexec(shell: CommandShell, argv: list[str]) -> Proc:
    """``chain [--replace] [--autofree] [<uri|image> [args...]]``; no URI: the selected image."""
    return _imgsingle(shell, argv, always_download=False, action=_exec, verb="boot")


def _imgmulti(shell: CommandShell, argv: list[str], payload: Callable[[Image], None]) -> int:
    """image_cmd.c imgmulti_exec: every image, or the named ones."""
    _, args = shell.parse(argv)
    if not args:
        for image in shell.images:
            payload(image)
        return errors.OK
    for name in args:
        image = shell.images.find(name)
        if image is None:
            shell.say(f'"{name}": no such image\n')
            return errors.ENOENT_IMAGE
        payload(image)
    return errors.OK


@_command("imgstat")
def imgstat(shell: CommandShell, argv: list[str]) -> int:
    """``imgstat [<image>...]`` (usr/imgmgmt.c imgstat)."""
    def show(image: Image) -> None:
        flags = "".join([f" [{image.format}]" if image.format else "",
                         " [SELECTED]" if image is shell.images.current_selection() else "",
                         " [AUTOFREE]" if image in shell.images.autofree else "",
                         f' "{image.cmdline}"' if image.cmdline is not None else ""])
        shell.say(f"{image.name} : {image.size} bytes{flags}\n")
    return _imgmulti(shell, argv, show)


@_command("imgfree")
def imgfree(shell: CommandShell, argv: list[str]) -> int:
    """``imgfree [<image>...]`` (unregister_image)."""
    return _imgmulti(shell, argv, shell.images.unregister)
