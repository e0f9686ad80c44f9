"""Calibration lab: real iPXE network boots under QEMU, timed, in a private namespace.

Modules: :mod:`.config` (YAML → :class:`LabConfig`), :mod:`.payload` (synthetic files,
boot script), :mod:`.dnsmasq` (DHCP/TFTP config), :mod:`.httpd` (timed HTTP server),
:mod:`.console` (serial console capture), :mod:`.netns` (namespace and processes),
:mod:`.install` (Debian packages), :mod:`.runner` (one run), :mod:`.cli` (commands).
"""

from .config import CASES, DhcpOptions, LabConfig, load_config, parse_config

__all__ = ["CASES", "DhcpOptions", "LabConfig", "load_config", "parse_config"]
