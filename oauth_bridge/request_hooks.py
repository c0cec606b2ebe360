"""Run an extension's per-request hooks only on the requests that need them.

Flask extensions register ``before_request``/``after_request``/``teardown_request`` hooks for the
whole app. Two of ours do nothing on most of the bridge's traffic but still cost time on every
proxied call (docs/performance.md, "hot path"): Flask-Limiter limits only the sign-in routes, and
flask-cors adds nothing to an answer for a request without ``Origin``. :func:`hooks_only_when`
wraps, in place, the hooks an extension registers while it is set up, so they keep their order
among the app's other hooks and run exactly as before whenever ``applies()`` is true.

Written here rather than taken from the extensions: Flask-Limiter 4 has no option to skip its
hooks (3.x's ``auto_check`` is gone) and flask-cors has none to skip requests without ``Origin``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask

_HOOK_REGISTRIES = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs")


def _skip_unless(applies: Callable[[], bool], hook: Callable[..., Any], kind: str) -> Any:
    """``hook`` run only when ``applies()``; otherwise a no-op with the same contract."""

    if kind == "after_request_funcs":

        @functools.wraps(hook)
        def after(response: Any) -> Any:
            return hook(response) if applies() else response

        return after

    @functools.wraps(hook)
    def other(*args: Any) -> Any:
        return hook(*args) if applies() else None

    return other


@contextmanager
def hooks_only_when(app: Flask, applies: Callable[[], bool]) -> Iterator[None]:
    """App-wide hooks registered inside the ``with`` block run only when ``applies()`` is true.

    ``applies`` is called inside the request context (``flask.request`` is available), once per
    hook per request; keep it to a dictionary lookup.
    """
    before = {kind: list(getattr(app, kind).get(None, ())) for kind in _HOOK_REGISTRIES}
    yield
    for kind in _HOOK_REGISTRIES:
        hooks = getattr(app, kind).get(None)
        if not hooks:
            continue
        known = before[kind]
        for index, hook in enumerate(hooks):
            if not any(hook is old for old in known):
                hooks[index] = _skip_unless(applies, hook, kind)
