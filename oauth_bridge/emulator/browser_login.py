"""A scripted browser sign-in through Looker's HTML forms, for tests, the soak tool and the bench.

Use :func:`browser_sign_in` wherever a program must sign a seed user in the way a person's
browser would, with ``requests`` and no token hard-coded: it follows redirects, reads each form
it lands on (the emulator's ``/login`` and its app approval page, with their hidden CSRF fields)
and posts it back. It lives in the package, not in ``tests/``, so that ``bench/`` and ``tools/``
can use the same walk without importing test code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import requests

MAX_REDIRECTS = 20
MAX_FORMS = 3
"""Sign-in, approval, and one spare: a walk that needs more is going in circles."""


class SignInError(RuntimeError):
    """The walk did not reach the end: too many redirects."""


class SignInRefused(SignInError):
    """The sign-in form came back: the email or password was refused (or the user is gone)."""


@dataclass
class _Form:
    action: str = ""
    method: str = "get"
    hidden: dict[str, str] = field(default_factory=dict)
    inputs: set[str] = field(default_factory=set)
    buttons: dict[str, set[str]] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Every form of a page: its action, method, hidden values, other inputs and buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[_Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(_Form(a.get("action", ""), a.get("method", "get").lower()))
        elif self.forms and tag == "input" and a.get("name"):
            if a.get("type") == "hidden":
                self.forms[-1].hidden[a["name"]] = a.get("value", "")
            else:
                self.forms[-1].inputs.add(a["name"])
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1].buttons.setdefault(a["name"], set()).add(a.get("value", ""))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _post_forms(page: requests.Response) -> list[_Form]:
    parser = _FormParser()
    parser.feed(page.text)
    return [form for form in parser.forms if form.method == "post"]


def browser_sign_in(
    http: requests.Session,
    start_url: str,
    email: str,
    password: str,
    approve: bool = True,
    *,
    follow_final: bool = True,
    timeout: float = 10,
) -> requests.Response:
    """Start at any URL that leads to Looker's ``/auth``; sign in and approve through the forms.

    Returns the response after the redirect back to ``redirect_uri`` was followed (or, with
    ``follow_final=False``, Looker's 302 that points there). A browser already signed in and
    approved walks straight through. Raises :class:`SignInRefused` when the sign-in form
    comes back, :class:`SignInError` on a redirect loop.
    """
    looker: list[str] = []

    def follow(response: requests.Response) -> requests.Response:
        for _ in range(MAX_REDIRECTS):
            if urlsplit(response.url).path in ("/auth", "/login") and not looker:
                looker.append(_origin(response.url))
            if not response.is_redirect:
                return response
            target = urljoin(response.url, response.headers["Location"])
            leaving = bool(looker) and _origin(response.url) == looker[0] != _origin(target)
            if leaving and not follow_final:
                return response
            response.close()
            response = http.get(target, allow_redirects=False, timeout=timeout)
        raise SignInError("too many redirects")

    response = follow(http.get(start_url, allow_redirects=False, timeout=timeout))
    for _ in range(MAX_FORMS):
        forms = _post_forms(response)
        if not forms:
            return response
        form = forms[0]
        if "password" in form.inputs:
            data = {**form.hidden, "email": email, "password": password}
        elif "approve" in form.buttons:
            data = {**form.hidden, "approve": "true" if approve else "false"}
        else:
            return response
        url = urljoin(response.url, form.action or response.url)
        response = follow(http.post(url, data=data, allow_redirects=False, timeout=timeout))
        if "password" in form.inputs and urlsplit(response.url).path == "/login":
            raise SignInRefused(f"the emulator refused the sign-in of {email}")
    return response
