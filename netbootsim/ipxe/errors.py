"""iPXE status codes as the 2019 BIOS ROM prints them, and ``strerror``.

iPXE packs every error into one 31-bit number (include/errno.h, "Error codes"):

    bits 30-24  POSIX code          (include/errno.h EINFO_* definitions)
    bits 23-13  file identifier     (include/ipxe/errfile.h ERRFILE_*)
    bits 12-8   per-file disambiguator ("uniq", __einfo_uniqify)
    bits  7-0   platform code       (BIOS: arch/x86/include/ipxe/errno/pcbios.h → PXENV_STATUS_*)

so the same POSIX error has a different number in each source file: ``isset`` failing
(exec.c) is ``0x2d02203b`` while an HTTP 404 (httpcore.c) is ``0x2d0c613b``. Every
constant below is computed with :func:`einfo` from the file that returns it in the ROM
the ground truth comes from (Debian ipxe-qemu 1.0.0+git-20190125.36a4c85).

Sign convention: iPXE commands return ``-code`` (or, for ``exit n``, ``n``); the shell
stores ``errno = |rc|`` (core/exec.c ``execv``). This package uses that magnitude
everywhere: a status is ``0`` (:data:`OK`) or the positive number ``${errno}`` shows.

iPXE source paths here (``core/exec.c``, ``net/udp/tftp.c``...) are files of iPXE's
source tree, [ipxe-src] in docs/sources.md.
"""

from __future__ import annotations

__all__ = ["ABORT_DEPTH", "ABORT_LOOP", "ABORT_UNMODELLED", "OK", "einfo", "posix_of", "strerror"]

#: POSIX parts (include/errno.h EINFO_*).
POSIX = {"ENOERR": 0x00, "EACCES": 0x02, "EADDRNOTAVAIL": 0x04, "ECANCELED": 0x0b,
         "ECONNRESET": 0x0f, "EINVAL": 0x1c, "EIO": 0x1d, "ENETUNREACH": 0x28,
         "ENODEV": 0x2c, "ENOENT": 0x2d, "ENOEXEC": 0x2e, "ENOMEM": 0x31, "ENOSPC": 0x34,
         "ENOTCONN": 0x38, "ENOTSUP": 0x3c, "ENOTTY": 0x3d, "EPERM": 0x41, "ERANGE": 0x46,
         "ETIMEDOUT": 0x4c, "ENXIO": 0x3e}

#: BIOS platform byte of each POSIX code (arch/x86/include/ipxe/errno/pcbios.h,
#: values from arch/x86/include/pxe_error.h).
PLATFORM = {"ENOERR": 0x00, "EACCES": 0x3c, "EADDRNOTAVAIL": 0x19, "ECANCELED": 0xa0,
            "ECONNRESET": 0x39, "EINVAL": 0x02, "EIO": 0x39, "ENETUNREACH": 0x11,
            "ENODEV": 0x3b, "ENOENT": 0x3b, "ENOEXEC": 0x01, "ENOMEM": 0x06, "ENOSPC": 0x06,
            "ENOTCONN": 0x01, "ENOTSUP": 0x03, "ENOTTY": 0x01, "EPERM": 0x3c, "ERANGE": 0x01,
            "ETIMEDOUT": 0x35, "ENXIO": 0x3b}

#: File identifiers (include/ipxe/errfile.h; ERRFILE_CORE 0x2000, _NET 0x6000,
#: _IMAGE 0x8000, _OTHER 0xe000, plus the file's index << 16).
ERRFILE = {"exec": 0x022000, "monojob": 0x072000, "settings": 0x0c2000, "base64": 0x102000,
           "base16": 0x112000, "parseopt": 0x162000, "ipv4": 0x056000, "tcp": 0x0a6000,
           "httpcore": 0x0c6000, "dhcp": 0x106000, "tftp": 0x126000, "image": 0x008000,
           "script": 0x028000, "image_cmd": 0x0ae000, "ifmgmt": 0x0ee000,
           "prompt": 0x22e000, "open": 0x092000, "x509": 0x16e000, "cms": 0x2ae000,
           "menu_ui": 0x2ce000, "readline": 0x32e000, "dns": 0x116000,
           "cpuid_cmd": 0x80e000}  # ERRFILE_ARCH 0x800000 | ERRFILE_OTHER (x86 bits/errfile.h)


def einfo(posix: str, errfile: str, uniq: int = 0) -> int:
    """The iPXE error number of ``posix`` raised in ``errfile`` (include/errno.h __einfo_errno).

    Example:
        >>> hex(einfo("ENOENT", "httpcore", 1))   # httpcore.c ENOENT_404
        '0x2d0c613b'
    """
    return (POSIX[posix] << 24) | ERRFILE[errfile] | (uniq << 8) | PLATFORM[posix]


def posix_of(status: int) -> int:
    """The POSIX part of ``status`` (bits 30-24), e.g. ``0x2d`` for any ENOENT."""
    return (status >> 24) & 0x7f


OK = 0

# -- the shell (core/exec.c) -------------------------------------------------------------
#: Command not found (exec.c execv): ``0x2e022001`` (core/exec.c:89-98, include/errno.h [ipxe-src]).
ENOEXEC = einfo("ENOEXEC", "exec")
#: ``isset`` of an empty value (exec.c isset_exec).
ENOENT = einfo("ENOENT", "exec")
#: ``iseq`` of different values (exec.c iseq_exec).
ERANGE = einfo("ERANGE", "exec")
#: ``sleep`` interrupted by a key (exec.c sleep_exec).
ECANCELED = einfo("ECANCELED", "exec")

# -- scripts (image/script.c) ------------------------------------------------------------
#: ``goto`` outside a script: "Not in a script" (script.c goto_exec).
ENOTTY = einfo("ENOTTY", "script")
#: ``goto`` to a label that does not exist (script.c goto_find_label).
ENOENT_LABEL = einfo("ENOENT", "script")
#: A script whose last line ends in ``\`` (script.c process_script sets -EINVAL, then
#: the loop ends before the joined line is run).
EINVAL_SCRIPT = einfo("EINVAL", "script")

# -- prompt (usr/prompt.c prompt) --------------------------------------------------------
#: ``prompt --timeout`` expired with no key pressed.
ETIMEDOUT = einfo("ETIMEDOUT", "prompt")
#: ``prompt --key k`` answered with another key.
ECANCELED_PROMPT = einfo("ECANCELED", "prompt")

# -- option and argument parsing (core/parseopt.c) ----------------------------------------
#: Unknown option: usage printed (parseopt.c reparse_options, EINVAL_UNKNOWN_OPTION).
EINVAL = einfo("EINVAL", "parseopt", 0x02)
EINVAL_UNKNOWN_OPTION = EINVAL
#: Option without its argument (EINVAL_MISSING_ARGUMENT).
EINVAL_MISSING_ARGUMENT = einfo("EINVAL", "parseopt", 0x03)
#: Not an integer: ``"x": invalid integer value`` (parse_integer, EINVAL_INTEGER).
EINVAL_INTEGER = einfo("EINVAL", "parseopt", 0x01)
#: Wrong number of arguments: usage printed (reparse_options).
ERANGE_ARGS = einfo("ERANGE", "parseopt")
#: ``--help`` (reparse_options, ECANCELED_NO_OP).
ECANCELED_NO_OP = einfo("ECANCELED", "parseopt", 0x01)
#: ``"x": no such network device`` (parse_netdev).
ENODEV_NETDEV = einfo("ENODEV", "parseopt")
#: ``"x": no such configurator`` (parse_netdev_configurator).
ENOTSUP_CONFIGURATOR = einfo("ENOTSUP", "parseopt")

# -- images (core/image.c, hci/commands/image_cmd.c) -------------------------------------
#: The image has no executable type (image.c image_exec / image_select / image_replace).
ENOEXEC_IMAGE = einfo("ENOEXEC", "image")
#: ``--replace`` with no image executing (image.c image_replace).
ENOTTY_IMAGE = einfo("ENOTTY", "image")
#: ``imgfree``/``imgstat`` of an unknown name (image_cmd.c imgmulti_exec).
ENOENT_IMAGE = einfo("ENOENT", "image_cmd")
#: Executing an untrusted image after ``imgtrust`` (image.c EACCES_UNTRUSTED).
EACCES_UNTRUSTED = einfo("EACCES", "image", 0x01)
#: Changing a trust policy made ``--permanent`` (image.c EACCES_PERMANENT).
EACCES_PERMANENT = einfo("EACCES", "image", 0x02)
#: No opener for the URI scheme, e.g. ``https`` in a build without it, or a SAN URI
#: in a world without SAN (core/open.c xfer_open_uri).
ENOTSUP_OPEN = einfo("ENOTSUP", "open")

# -- menus, parameter lists, cpuid, read (parseopt.c, menu_ui.c, cpuid_cmd.c, readline.c) --
#: ``"x": no such menu``, ``No default menu``, ``"x": no such parameter list``,
#: ``No default parameter list`` (parseopt.c parse_menu, parse_parameters).
ENOENT_PARSEOPT = einfo("ENOENT", "parseopt")
#: ``choose`` on a menu with no labelled item (menu_ui.c show_menu).
ENOENT_MENU = einfo("ENOENT", "menu_ui")
#: Esc or Ctrl-C in a menu (menu_ui.c menu_loop).
ECANCELED_MENU = einfo("ECANCELED", "menu_ui")
#: ``cpuid`` of a feature bit that is clear (cpuid_cmd.c cpuid_exec).
ENOENT_CPUID = einfo("ENOENT", "cpuid_cmd")
#: ``read --timeout`` expired (readline.c readline_history; master only).
ETIMEDOUT_READLINE = einfo("ETIMEDOUT", "readline")
#: ``show`` of a setting with no value (settings.c fetch_setting).
ENOENT_SETTING = einfo("ENOENT", "settings")

# -- what a world returns from verify() (crypto/cms.c, crypto/x509.c) ---------------------
#: ``imgverify --signer`` names nobody who signed (cms.c EACCES_WRONG_NAME).
EACCES_WRONG_NAME = einfo("EACCES", "cms", 0x04)
#: The signer's chain does not end at a trusted root (x509.c EACCES_UNTRUSTED).
EACCES_UNTRUSTED_ROOT = einfo("EACCES", "x509", 0x06)
#: A certificate is expired or not yet valid (x509.c EACCES_EXPIRED).
EACCES_EXPIRED = einfo("EACCES", "x509", 0x04)

# -- settings (core/settings.c and the type parsers) -------------------------------------
#: Unknown settings block in a name (settings.c parse_setting_name).
ENODEV_SETTINGS = einfo("ENODEV", "settings")
#: Unknown type in a name, or a non-numeric type where a number is needed
#: (settings.c parse_setting_name / setting_numerate / setting_denumerate).
ENOTSUP_SETTINGS = einfo("ENOTSUP", "settings")
#: Bad integer value (settings.c parse_int_setting).
EINVAL_SETTINGS = einfo("EINVAL", "settings")
#: Bad hex value (core/base16.c hex_decode).
EINVAL_HEX = einfo("EINVAL", "base16")
#: Bad base64 value (core/base64.c base64_decode).
EINVAL_BASE64 = einfo("EINVAL", "base64")
#: Bad IPv4 address (net/ipv4.c parse_ipv4_setting).
EINVAL_IPV4 = einfo("EINVAL", "ipv4")

# -- what a world returns from dhcp()/fetch() ---------------------------------------------
#: HTTP 404 (net/tcp/httpcore.c ENOENT_404). Ground truth: fail.console.txt ``0x2d0c613b``.
ENOENT_HTTP_404 = einfo("ENOENT", "httpcore", 0x01)
#: HTTP 4xx other than 401/403/404 (httpcore.c EIO_4XX).
EIO_HTTP_4XX = einfo("EIO", "httpcore", 0x04)
#: HTTP 5xx (httpcore.c EIO_5XX).
EIO_HTTP_5XX = einfo("EIO", "httpcore", 0x05)
#: TFTP ERROR "file not found" (net/udp/tftp.c tftp_errno: plain -ENOENT in the 2019 ROM;
#: current master returns ENOENT_NOT_FOUND = 0x2d12613b, tftp.c:886-921 [ipxe-src]).
ENOENT_TFTP = einfo("ENOENT", "tftp")
#: TFTP retry timer gave up (tftp.c tftp_timer_expired).
ETIMEDOUT_TFTP = einfo("ETIMEDOUT", "tftp")
#: TCP retry timer gave up, e.g. SYN unanswered (net/tcp.c tcp_expired).
ETIMEDOUT_TCP = einfo("ETIMEDOUT", "tcp")
#: TCP RST, which is how "connection refused" shows (net/tcp.c tcp_rx_rst).
ECONNRESET_TCP = einfo("ECONNRESET", "tcp")
#: No progress for ``--timeout`` (core/monojob.c monojob_wait).
ETIMEDOUT_DOWNLOAD = einfo("ETIMEDOUT", "monojob")
#: DHCP gave up (net/udp/dhcp.c dhcp_timer_expired), seen with ``ifconf -c dhcp``.
ETIMEDOUT_DHCP = einfo("ETIMEDOUT", "dhcp")
#: ``dhcp``/``ifconf`` with no configurator succeeding (usr/ifmgmt.c ifconf_progress).
EADDRNOTAVAIL_CONFIG = einfo("EADDRNOTAVAIL", "ifmgmt", 0x01)

# -- simulator aborts (not iPXE numbers; negative so they never collide) -----------------
#: Too many commands without simulated time passing (a ``goto`` loop without ``sleep``).
ABORT_LOOP = -1
#: Chained scripts nested deeper than the limit (an endless chainload loop).
ABORT_DEPTH = -2
#: The script needs something the world does not model (an optional World method
#: such as ``reboot`` or ``verify`` is missing); the reason names it.
ABORT_UNMODELLED = -3

#: Messages matched on the exact number (the ``__errortab`` tables linked into the
#: ROM: usr/ifmgmt.c, net/tcp/httpcore.c).
_EXACT = {EADDRNOTAVAIL_CONFIG: "No configuration methods succeeded",
          EIO_HTTP_4XX: "HTTP 4xx Client Error", EIO_HTTP_5XX: "HTTP 5xx Server Error"}
#: Messages matched on ``status & 0x7f0000ff`` (hci/strerror.c common_errors).
_COMMON = {"ENOERR": "Operation completed successfully", "EACCES": "Permission denied",
           "ECANCELED": "Operation canceled", "ECONNRESET": "Connection reset",
           "EINVAL": "Invalid argument", "EIO": "Input/output error",
           "ENETUNREACH": "Network unreachable", "ENODEV": "No such device",
           "ENOENT": "No such file or directory", "ENOEXEC": "Exec format error",
           "ENOMEM": "Not enough space", "ENOSPC": "No space left on device",
           "ENOTCONN": "The socket is not connected", "ENOTSUP": "Operation not supported",
           "EPERM": "Operation not permitted", "ERANGE": "Result too large",
           "ETIMEDOUT": "Connection timed out"}
_GENERIC = {(POSIX[n] << 24) | PLATFORM[n]: text for n, text in _COMMON.items()}


def strerror(status: int) -> str:
    """What iPXE prints for ``status`` (hci/strerror.c strerror / find_closest_error).

    The exact number is looked up first, then the number with the file and
    disambiguator bits masked off; unknown numbers print as ``Error 0x%08x``. The
    ``(http://ipxe.org/...)`` suffix is part of the text, as in the ROM.

    Example:
        >>> strerror(3)
        'Error 0x00000003 (http://ipxe.org/00000003)'
        >>> strerror(ENOENT_HTTP_404)
        'No such file or directory (http://ipxe.org/2d0c613b)'
    """
    if status < 0:
        return {ABORT_LOOP: "goto loop without sleep (simulator abort)",
                ABORT_DEPTH: "chain recursion limit (simulator abort)",
                ABORT_UNMODELLED: "not modelled by the world (simulator abort)"}.get(
                    status, f"simulator abort {status}")
    status &= 0xffffffff
    text = _EXACT.get(status) or _GENERIC.get(status & 0x7f0000ff)
    if text is None:
        text = f"Error 0x{status:08x}"
    return f"{text} (http://ipxe.org/{status:08x})"
