"""The outcome of one transfer, as every transfer model returns it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TransferResult"]


@dataclass(frozen=True, slots=True)
class TransferResult:
    """One transfer, from request to last byte.

    Attributes:
        protocol: ``"tftp"``, ``"http"``, ...
        start: simulated time of the request (s).
        end: simulated time of the last byte, or of the failure (s).
        bytes: payload bytes delivered.
        wire_bytes: bytes the transfer put on the wire (data direction).
        outcome: ``"ok"`` or ``"failed"``.
        reason: why it failed (empty when ok).
    """

    protocol: str
    start: float
    end: float
    bytes: float
    wire_bytes: float
    outcome: str
    reason: str

    @property
    def seconds(self) -> float:
        """Duration from request to last byte (or failure)."""
        return self.end - self.start
