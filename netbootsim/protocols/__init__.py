"""Transfer laws, pure math: TFTP lock-step, TCP/HTTP, iPXE's retry timer, wire sizes.

Nothing here imports SimPy or the engines (``tests/protocols/test_protocols.py`` keeps it so):
:mod:`netbootsim.net.transfer` drives the flow engine with these laws' plans.
"""

from .result import TransferResult
from .retry import retry_waits
from .tcp import HttpPlan, TcpParams, http_plan, tcp_data_time, tcp_schedule
from .tftp import TftpParams, TftpPlan, tftp_plan

__all__ = [
    "TransferResult",
    "TcpParams",
    "HttpPlan",
    "http_plan",
    "tcp_data_time",
    "tcp_schedule",
    "TftpParams",
    "TftpPlan",
    "retry_waits",
    "tftp_plan",
]
