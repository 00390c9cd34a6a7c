"""Which web pages may open a socket: the ``Origin`` check of the handshake. Pure.

A browser sends ``Origin`` on every WebSocket handshake, and a page on any
site can open a socket to the edge (cookies are not used, but a demo identity
needs no credentials at all, and the page's own tokens must not be usable from
another site's frames). So:

* no ``Origin`` header: a non-browser client (``apex chat``, a server) —
  allowed; browsers always send it;
* ``ALLOWED_ORIGINS`` set (comma-separated ``scheme://host[:port]``): only those;
* unset: only the page's own origin, i.e. an ``Origin`` whose host and port are
  the request's ``Host``;
* anything else, ``null`` and several ``Origin`` headers included: refused (HTTP 403).

The same module checks the host a response names in its Content-Security-Policy
(:func:`plain_host`), since that header is built from the request's ``Host``.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

from apex_core.errors import ApexError

_HOST: Final = re.compile(
    r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.?)+(?::\d{1,5})?|\[[0-9a-f:.]+\](?::\d{1,5})?"
)


class OriginRefused(ApexError):
    """A browser page of another site tried to open a socket."""

    code = "forbidden_origin"


def parse_allowed_origins(text: str | None) -> frozenset[str] | None:
    """``ALLOWED_ORIGINS`` as normalised origins, or None (unset: the page's own origin).

    Raises ``ValueError`` naming the entry that is not ``scheme://host[:port]``.
    """
    if text is None or not text.strip():
        return None
    origins = set()
    for item in text.split(","):
        entry = item.strip().rstrip("/")
        if not entry:
            continue
        normal = normalise(entry)
        if normal is None:
            raise ValueError(
                f"ALLOWED_ORIGINS entries must be 'http(s)://host[:port]' with no path; "
                f"{entry[:80]!r} is not"
            )
        origins.add(normal)
    return frozenset(origins) or None


def normalise(origin: str) -> str | None:
    """``scheme://host[:port]`` lower-cased, or None if ``origin`` is not one."""
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or parts.path or parts.query:
        return None
    host = plain_host(parts.netloc)
    if host is None or parts.username or parts.password or parts.fragment:
        return None
    return f"{parts.scheme.lower()}://{host}"


def plain_host(value: str | None) -> str | None:
    """``value`` lower-cased when it is a bare ``host[:port]`` (no user, path or
    spaces), else None."""
    if not value:
        return None
    host = value.strip().lower()
    return host if _HOST.fullmatch(host) else None


def check_origin(origins: list[str], *, host: str | None, allowed: frozenset[str] | None) -> None:
    """Raise :class:`OriginRefused` unless the handshake's ``Origin`` headers may connect."""
    if not origins:
        return
    if len(origins) > 1:
        raise OriginRefused("send one Origin header, not several")
    origin = normalise(origins[0])
    if origin is not None:
        if allowed is not None and origin in allowed:
            return
        own = plain_host(host)
        if allowed is None and own is not None and origin.split("://", 1)[1] == own:
            return
    raise OriginRefused(
        "this origin may not open a socket here: only the chat page's own origin (or those "
        "in ALLOWED_ORIGINS) and clients that send no Origin header"
    )
