"""Image trust: ``imgverify``, ``imgtrust`` (hci/commands/image_trust_cmd.c, usr/imgtrust.c).

Not in default builds (``//#define IMAGE_TRUST_CMD``, config/general.h) and not in
the 2019 lab ROM: give the Shell a build without them and they are ``command not
found``, as there.

``imgverify`` acquires the image and the signature (by name, else by download),
marks the image untrusted, then asks the world's optional ``verify(image,
signature, signer)`` whether the detached CMS signature holds (usr/imgtrust.c: chain
to a trusted root, code-signing usage, ``--signer`` name); on success the image is
trusted. The signature is unregistered unless ``--keep``. A world without
``verify`` cannot say, and the run stops with ``errors.ABORT_UNMODELLED`` and a
reason rather than guessing.

``imgtrust`` needs no world: it sets the shell's policy that ``chain``/``boot``
refuse untrusted images (core/image.c image_set_trust, image_exec).

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

from . import errors
from .image_cmd import acquire
from .interface import CommandShell, Handler, Proc
from .options import parse_timeout

__all__ = ["TRUST_COMMANDS"]

#: Trust commands by name.
TRUST_COMMANDS: dict[str, Handler] = {}


def imgverify(shell: CommandShell, argv: list[str]) -> Proc:
    """``imgverify [--signer s] [--keep] [--timeout ms] <image> <signature>``."""
    opts, args = shell.parse(argv)
    timeout = parse_timeout(str(opts["timeout"]), shell.say) if "timeout" in opts else 0
    verify = getattr(shell.world, "verify", None)
    rc, image = yield from acquire(shell, args[0], timeout or None)
    if rc:
        return rc
    rc, signature = yield from acquire(shell, args[1], timeout or None)
    if rc:
        return rc
    assert image is not None and signature is not None
    image.trusted = False  # usr/imgtrust.c imgverify: image_untrust first
    try:
        if verify is None:
            shell.abort(errors.ABORT_UNMODELLED, f"imgverify {args[0]} {args[1]}: the "
                        "simulated world cannot check signatures (World.verify is not "
                        "implemented)")
        signer = opts.get("signer")
        got = yield from verify(image, signature, str(signer) if signer is not None else None)
        if got.status:
            shell.say(f"Could not verify: {errors.strerror(got.status)}\n")
            shell.detail = got.reason
            return got.status
        image.trusted = True
        return errors.OK
    finally:
        if not opts.get("keep"):
            shell.images.unregister(signature)


def imgtrust(shell: CommandShell, argv: list[str]) -> int:
    """``imgtrust [--allow] [--permanent]``: require trusted images (or allow any).

    A permanent policy cannot change: trying prints ``Could not set image trust
    requirement`` and fails with EACCES_PERMANENT (core/image.c image_set_trust).
    """
    opts, _ = shell.parse(argv)
    required = not opts.get("allow")
    if not shell.trust.permanent:
        shell.trust.required, shell.trust.permanent = required, bool(opts.get("permanent"))
    if shell.trust.required != required:
        shell.say("Could not set image trust requirement: "
                  f"{errors.strerror(errors.EACCES_PERMANENT)}\n")
        return errors.EACCES_PERMANENT
    return errors.OK


TRUST_COMMANDS.update(imgverify=imgverify, imgtrust=imgtrust)
