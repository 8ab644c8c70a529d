"""Who may use a member's portal, and the headers every page carries.

The portal acts with the member's private key, so only the member's own browser may use
it, even on a shared machine or behind a proxy:

- **Start token.** ``sharelake portal`` prints a URL with a one-time random token
  (as Jupyter does). Opening it sets an HttpOnly, SameSite=Strict session cookie and
  spends the token; a browser without that cookie (another member's, another user's on
  the same host) gets the sign-in page and nothing else.
- **CSRF.** Every form carries the session's CSRF token, checked on every POST, and a
  POST whose ``Origin`` or ``Referer`` is another origin is refused, so another site
  open in the member's browser cannot make the portal sign or upload.
- **Host check.** Requests must name the portal's own host (DNS-rebinding defence).
- **Headers.** ``Content-Security-Policy: default-src 'none'`` with only the portal's own
  stylesheet and images, no framing, no referrer to other sites, no caching of pages.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

__all__ = [
    "COOKIE",
    "CSP",
    "SECURITY_HEADERS",
    "Access",
    "Visitor",
]

COOKIE = "sharelake_portal"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@dataclass
class Visitor:
    """A signed-in browser: its cookie value and the CSRF token of its forms."""

    cookie: str
    csrf: str
    since: float = field(default_factory=time.time)


class Access:
    """The portal's start token and signed-in browsers (one member, in memory).

    Parameters
    ----------
    hosts
        Host header values this portal answers to (e.g. ``127.0.0.1:8765``).
    max_age
        Seconds a browser stays signed in.
    """

    def __init__(self, hosts: set[str], *, max_age: float = 12 * 3600) -> None:
        self.hosts = set(hosts)
        self.max_age = max_age
        self._token: str | None = secrets.token_urlsafe(32)
        self._visitors: dict[str, Visitor] = {}
        self._lock = threading.Lock()

    @property
    def start_token(self) -> str | None:
        """The token of the start URL until a browser has used it, then None."""
        return self._token

    def new_start_token(self) -> str:
        """Issue a fresh start token (``sharelake portal`` prints it again on request)."""
        with self._lock:
            self._token = secrets.token_urlsafe(32)
            return self._token

    def sign_in(self, token: str) -> Visitor | None:
        """Spend the start token; a new visitor, or None for a wrong or spent token."""
        with self._lock:
            if self._token is None or not hmac.compare_digest(token, self._token):
                return None
            self._token = None
            v = Visitor(secrets.token_urlsafe(32), secrets.token_urlsafe(32))
            self._visitors[v.cookie] = v
            return v

    def visitor(self, cookie: str | None) -> Visitor | None:
        """The signed-in visitor of this cookie (None: not signed in, or expired)."""
        if not cookie:
            return None
        with self._lock:
            v = self._visitors.get(cookie)
            if v is not None and time.time() - v.since > self.max_age:
                del self._visitors[cookie]
                return None
            return v

    def sign_out(self, cookie: str) -> None:
        """Forget a visitor."""
        with self._lock:
            self._visitors.pop(cookie, None)

    def host_ok(self, host: str | None) -> bool:
        """Whether a request's Host header names this portal."""
        return host is not None and host.lower() in self.hosts

    def same_origin(self, origin: str | None, referer: str | None) -> bool:
        """Whether a POST comes from one of the portal's own pages (absent headers pass:
        the CSRF token still has to match)."""
        for value in (origin, referer):
            if value and value != "null":
                rest = value.split("://", 1)[-1]
                if rest.split("/", 1)[0].lower() not in self.hosts:
                    return False
            elif value == "null":
                return False
        return True

    @staticmethod
    def csrf_ok(visitor: Visitor, token: str | None) -> bool:
        """Whether a form's CSRF token is the visitor's."""
        return token is not None and hmac.compare_digest(token, visitor.csrf)
