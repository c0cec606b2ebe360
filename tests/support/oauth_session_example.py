# Copied from Looker's own example client, looker-open-source/sdk-codegen
# examples/python/oauth_session.py (MIT License, Copyright (c) 2019 Looker Data Sciences, Inc.).
#
# Changed, and nothing else:
# - API 3.1 -> 4.0: looker-sdk 24+ no longer ships `looker_sdk.sdk.api31` nor
#   `serialize.deserialize31`, and plain `serialize.serialize` now needs a converter; so the
#   imports, `deserialize40`/`serialize40`, `version="4.0"` and `Looker40SDK` are used instead.
# Its settings (base_url, looker_url, client_id, redirect_uri, verify_ssl) come, as in the
# original, from a `looker.ini` in the working directory, which the test writes; the test
# answers `input()` and `getpass()` as a person would. Import order kept as published:
# ruff: noqa: I001
import getpass
import sys
import urllib.parse

import requests

from looker_sdk.rtl import api_settings, auth_session, requests_transport
from looker_sdk.sdk.api40 import methods
from looker_sdk.rtl import serialize


def oauth_interactive_roundtrip():
    username = input("\nemail: ")
    password = getpass.getpass()
    settings = api_settings.ApiSettings()
    transport = requests_transport.RequestsTransport.configure(settings)
    session = auth_session.OAuthSession(
        settings=settings,
        transport=transport,
        deserialize=serialize.deserialize40,
        serialize=serialize.serialize40,
        crypto=auth_session.CryptoHash(),
        version="4.0",
    )
    auth_code_request_url = session.create_auth_code_request_url("api", "mystate")
    with requests.Session() as s:
        s.verify = False

        redirect_to_login = s.get(auth_code_request_url)
        csrf_token = urllib.parse.unquote(s.cookies["CSRF-TOKEN"])
        redirect = s.post(
            redirect_to_login.url,
            data={"csrf-token": csrf_token, "email": username, "password": password},
            allow_redirects=False,
        )
        assert redirect.next.path_url != "/login", "Failed to login to looker."

        while redirect.next:
            try:
                # 1. redirect to /auth
                # 2. (if already authorized app) redirect to settings.redirect_uri
                redirect = s.send(redirect.next, allow_redirects=False, timeout=2)
            except requests.exceptions.ConnectTimeout:
                # yep, redirected to settings.redirect_uri which doesn't exist hence
                # the timeout error. skip the app approval else block below
                break
        else:
            # redirected to app approval
            redirect = s.post(
                redirect.url,
                data={"csrf-token": csrf_token, "approve": "true"},
                allow_redirects=False,
            )
            assert redirect.status_code != 403, "User not allowed to authorize app!"

    # whether we had to authorize or were already authorized, we've now
    # been redirected to settings.redirect_uri, grab the Location header
    # query string to parse out the "code"
    qs = urllib.parse.urlparse(redirect.headers["Location"]).query
    params = urllib.parse.parse_qs(qs)
    assert "code" in params
    session.redeem_auth_code(params["code"][0])
    sdk = methods.Looker40SDK(
        session, serialize.deserialize40, serialize.serialize40, transport, "4.0"
    )
    me = sdk.me()
    print(f"Hi {me.first_name}, your user_id is {me.id}")


if __name__ == "__main__":
    sys.exit(oauth_interactive_roundtrip())
