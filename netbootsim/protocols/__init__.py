"""Transfer models: the laws of TFTP and TCP/HTTP, and how they drive the flow engine."""

from .result import TransferResult
from .tcp import HttpPlan, TcpParams, http_plan, http_transfer, tcp_data_time, tcp_schedule
from .tftp import TftpParams, TftpPlan, retry_waits, tftp_plan, tftp_transfer

__all__ = [
    "TransferResult",
    "TcpParams",
    "HttpPlan",
    "http_plan",
    "http_transfer",
    "tcp_data_time",
    "tcp_schedule",
    "TftpParams",
    "TftpPlan",
    "retry_waits",
    "tftp_plan",
    "tftp_transfer",
]
