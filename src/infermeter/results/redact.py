"""Credentials in URLs (http://user:secret@host/) are used to connect, never stored or shown: results,
reports, logs and messages carry the URL with its user information replaced by "***"."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

MASK = "***"
# scheme://userinfo@ : userinfo is whatever precedes the first "@" of the authority (no "/", "?", "#").
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#\s@]+@")


def redact_url(url: str) -> str:
    """`url` with its user name and password (if any) masked; anything else kept as it is."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{MASK}@{host}"))


def redact_text(text: str) -> str:
    """Every URL with user information in `text` masked (for messages and log lines)."""
    return _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", text)
