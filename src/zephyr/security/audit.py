"""The security log (see :mod:`zephyr.audit`, where it lives), under its old import path."""

from zephyr.audit import log_refusal, logger

__all__ = ["log_refusal", "logger"]
