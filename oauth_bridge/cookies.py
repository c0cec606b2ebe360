"""Reading the bridge's own cookies from a request: the one reader every view and check uses.

A ``Cookie`` header may reach the app as several lines joined into one environ value. Browsers
send one line over HTTP/1.1, but HTTP/2 lets them split it into crumbs, and a front end may pass
those on as separate lines; gunicorn and Werkzeug's dev server then join repeated lines with
``,``, which Werkzeug's cookie parser (``;``-separated) reads as part of the previous cookie's
value, losing the session. gunicorn.conf.py's ``pre_request`` hook joins them with ``; `` before
that happens; this reader also finds a cookie in the ``,``-joined form, with rules that keep a
look-alike planted inside another cookie's value from winning (see :func:`request_cookie`).
"""

from __future__ import annotations

from flask import request

HOST_PREFIX = "__Host-"


def request_cookie(name: str) -> str | None:
    """The value of cookie ``name`` in this request, or None.

    A ``name=value`` pair at the top level (``;``-separated) wins; its value ends at a ``,``
    (the bridge's cookie values never hold one; what follows is a joined line). Only when there
    is none, and only for names without the ``__Host-`` prefix, a pair that starts a ``,``-joined
    line counts: a ``__Host-`` cookie cannot be set by a sibling subdomain, but the value of one
    of that sibling's own cookies could hold ``,__Host-looker_session=…``, so ``__Host-`` names
    rely on the exact ``; `` join of gunicorn's hook instead.
    """
    cookies = request.cookies
    value = cookies.get(name)
    if value is not None:
        return value.split(",", 1)[0]
    if name.startswith(HOST_PREFIX):
        return None
    for joined in cookies.values():
        for crumb in joined.split(",")[1:]:
            key, sep, found = crumb.partition("=")
            if sep and key.strip() == name:
                return found.strip()
    return None
