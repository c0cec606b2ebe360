"""Text shapes that carry a secret, and the secret parts that must never survive redaction.

Shared by the redaction tests and the hot-path tests that check the quick path redacts the same.
"""

from __future__ import annotations

SECRETS = {
    "bearer": "Authorization: Bearer eyAbc.def-123_456",
    "looker_token_scheme": "Authorization: token Zx9f8e7d6c5b4a39281",
    "query": "GET /auth/callback?code=SECRETCODE123&state=abc HTTP/1.1",
    "form": "grant_type=refresh_token&refresh_token=SECRETREFRESH&client_id=x",
    "access_query": "url?access_token=SECRETACCESS&x=1",
    "json": '{"access_token": "SECRETACCESS", "token_type": "Bearer"}',
    "json_code": '{"grant_type": "authorization_code", "code": "SECRETCODE123"}',
    "verifier": "code_verifier=SECRETVERIFIER",
    "dict_repr": "{'refresh_token': 'SECRETREFRESH', 'expires_in': 3600}",
    "cookie": "Cookie: looker_session=AAAAAAAAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBB; x=1",
    "host_cookie": "__Host-looker_session=SECRETCOOKIEVALUE",
    "fernet": "value gAAAAABlZXhhbXBsZV9mZXJuZXRfdG9rZW5fdmFsdWU= stored",
    "jwt": "id eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlX3ZhbHVl",
    "client_secret": "client_secret=admin-client-secret",
}
SECRET_PARTS = (
    "eyAbc.def-123_456",
    "Zx9f8e7d6c5b4a39281",
    "SECRETCODE123",
    "SECRETREFRESH",
    "SECRETACCESS",
    "SECRETVERIFIER",
    "AAAAAAAAAAAAAAAAAAAAAA",
    "SECRETCOOKIEVALUE",
    "gAAAAABlZXhhbXBsZV9m",
    "eyJzdWIiOiIxMjM0NSJ9",
    "admin-client-secret",
)
