"""A Redis URL fit for error messages and logs: its password never shown."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["without_password"]


def without_password(url: str) -> str:
    """``url`` with any password (in the user part or the query) replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and "password" not in parts.query:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc, query=""))
