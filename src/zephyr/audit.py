"""The security log: every refusal as a structured record on the ``zephyr.security`` logger.

Records carry ``security_event``, ``client``, ``path`` and ``reason`` as
attributes (for JSON log formatters) and never a secret: no cookie, token,
password or key is ever passed here.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["log_refusal", "logger"]

logger = logging.getLogger("zephyr.security")


def log_refusal(event: str, scope: dict[str, Any], reason: str, *,
                level: int = logging.WARNING, **fields: Any) -> None:
    """Log that ``event`` (like ``"csrf-refused"``) refused the request of ``scope``."""
    if not logger.isEnabledFor(level):
        return
    client = scope.get("client")
    host = client[0] if client else None
    path = scope.get("path", "")
    logger.log(
        level, "%s: %s (%s %s from %s)", event, reason, scope.get("method", "-"), path, host,
        extra={"security_event": event, "client": host, "path": path, "reason": reason,
               **fields},
    )
