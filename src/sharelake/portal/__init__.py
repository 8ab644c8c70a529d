"""The member's local web portal: ``sharelake portal --as MEMBER --consortium FILE``.

Each member runs the portal on its own machine (bound to localhost by default), so its
private key and plaintext files never leave it; the portal shares, signs and queries
through the Python client exactly as the CLI does. Pages are rendered on the server
(FastAPI + Jinja2) and carry no script; a strict Content-Security-Policy forbids any
fetch from another origin. Modules: :mod:`~sharelake.portal.access` (who may use this
portal: the start token, cookie sessions, CSRF, security headers),
:mod:`~sharelake.portal.mapping` (the upload wizard's mapping and validation),
:mod:`~sharelake.portal.app` (the pages).
"""
