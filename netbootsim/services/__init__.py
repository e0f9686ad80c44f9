"""Boot services with their limits: one module per kind of service.

``dhcp`` (servers with pools, ping check and ProxyDHCP; the iPXE and PXE ROM clients),
``slots`` (TFTP session caps with iPXE's RRQ re-sends and dnsmasq's orphans; HTTP
worker caps with keep-alive and backlog), ``provisioning`` (the API's inventory and
sandboxed script templates).
"""
