"""Images and the image list, and the records a world returns from fetches and DHCP.

The :class:`~netbootsim.ipxe.World` protocol itself is in :mod:`.interface`.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from .script import ScriptError, parse_script

__all__ = ["DhcpReply", "Fetched", "Image", "ImageList", "KINDS", "Outcome"]

#: Image kinds: ``script`` (``#!ipxe`` text), ``binary`` (something iPXE can execute:
#: a kernel, an NBP), ``data`` (no executable format, e.g. an initrd).
KINDS = ("script", "binary", "data")


@dataclass(eq=False, slots=True)
class Image:
    """A downloaded image (core/image.c ``struct image``, the parts a simulation needs).

    Compared by identity, as iPXE's image list is: two downloads of one file are two
    images.

    Attributes:
        name: its name in the image list: the last path segment of its URI unless
            renamed with ``--name`` (core/image.c image_set_uri).
        uri: the resolved URI it was fetched from.
        size: length in bytes.
        kind: one of :data:`KINDS`.
        text: the script body for a ``script``, else None.
        cmdline: the arguments after the URI (``kernel vmlinuz console=ttyS0``).
        format: the type name ``imgstat`` shows (``script``, ``PXE-NBP``, ``bzImage``);
            empty for none.
        trusted: a signature was verified (``imgverify``; core/image.c IMAGE_TRUSTED).
            Downloads start untrusted.
    """

    name: str
    uri: str
    size: int
    kind: str = "binary"
    text: str | None = None
    cmdline: str | None = None
    format: str = ""
    trusted: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"image {self.name!r}: kind {self.kind!r} is not one of {KINDS}")
        if self.kind == "script" and not self.format:
            self.format = "script"

    @property
    def executable(self) -> bool:
        """Whether iPXE found an image type with an ``exec`` method (core/image.c image_exec)."""
        return self.kind in ("script", "binary")


@dataclass(frozen=True)
class Fetched:
    """The outcome of one download.

    Attributes:
        status: 0, or an iPXE error number (e.g. ``errors.ENOENT_HTTP_404``).
        reason: the world's own words for what happened (records, reports).
        image: the image on success, else None.
    """

    status: int
    reason: str = ""
    image: Image | None = None


@dataclass(frozen=True)
class Outcome:
    """The outcome of an optional world call (``verify``, ``reboot``, ``san``, ``post``).

    Attributes:
        status: 0, or an iPXE error number.
        reason: the world's own words (records, reports).
        drive: for ``san("hook", ...)``: the drive number the device got (None: the
            one asked for).
    """

    status: int
    reason: str = ""
    drive: int | None = None


@dataclass(frozen=True, slots=True)
class DhcpReply:
    """The outcome of ``dhcp``/``ifconf``.

    Attributes:
        status: 0, or an iPXE error number (e.g. ``errors.EADDRNOTAVAIL_CONFIG``).
        reason: the world's own words.
        settings: what to register as ``net0.dhcp``, name → text, e.g.
            ``{"ip": "10.0.0.5", "next-server": "10.0.0.1", "filename": "boot.ipxe"}``.
    """

    status: int
    reason: str = ""
    settings: dict[str, str] = field(default_factory=dict)


class ImageList:
    """The registered images, oldest first, with the selection and ``--autofree`` marks.

    core/image.c ``images``, register_image, unregister_image, find_image,
    image_find_selected. Membership is by identity.
    """

    __slots__ = ("_images", "_index", "autofree", "selected")

    def __init__(self) -> None:
        self._images: list[Image] = []
        #: The image ``kernel``/``imgselect`` selected (it counts only while registered).
        self.selected: Image | None = None
        #: Images to unregister after they were executed (``--autofree``).
        self.autofree: list[Image] = []
        self._index = 0

    def __iter__(self) -> Iterator[Image]:
        return iter(list(self._images))

    def __contains__(self, image: object) -> bool:
        return any(i is image for i in self._images)

    def register(self, image: Image) -> None:
        """Append ``image``, naming it ``imgN`` if it has no name, and probe its type.

        A ``script`` without the ``#!ipxe`` magic gets no type (kind ``data``), like a
        file no probe recognises (image/script.c script_probe; the BIOS ROM would in
        fact probe a small one as a PXE NBP, arch/x86/image/pxe_image.c).
        """
        if not image.name:
            image.name = f"img{self._index}"
            self._index += 1
        if image.kind == "script":
            try:
                parse_script(image.text or "", image.uri)
            except ScriptError:
                image.kind, image.format = "data", ""
        self._images.append(image)

    def unregister(self, image: Image) -> None:
        """Remove ``image`` if registered."""
        self._images = [i for i in self._images if i is not image]

    def find(self, name: str) -> Image | None:
        """The first registered image called ``name``."""
        return next((i for i in self._images if i.name == name), None)

    def current_selection(self) -> Image | None:
        """The selected image, if it is still registered."""
        return self.selected if self.selected in self else None
