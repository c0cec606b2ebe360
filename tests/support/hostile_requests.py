"""Request targets the proxy must refuse: path traversal and SSRF strings, and injected queries.

Shared by the attack tests on the threaded test server (``tests/security/test_proxy_attacks.py``)
and on gunicorn (``tests/integration/test_multi_instance.py``). Each is already encoded for the
request line; send it on a raw socket (see ``security_tools.raw_request``), since ``requests``
would normalise it.
"""

from __future__ import annotations

# The proxy answers each with 400 ``invalid_path``.
TRAVERSAL_AND_SSRF = [
    "/api/4.0/../4.0/user",
    "/api/4.0/looks/../user",
    "/api/4.0/looks/../../token",
    "/api/4.0/./user",
    "/api/4.0/user/.",
    "/api/4.0/looks/%2e%2e/user",
    "/api/4.0/looks/%2E%2E/%2E%2E/login",
    "/api/4.0/looks/.%2e/user",
    "/api/4.0/looks/%2e./user",
    "/api/4.0/looks/%252e%252e/user",
    "/api/4.0/looks/%25%32%65%25%32%65/user",
    "/api/4.0/%u002e%u002e/token",
    "/api/4.0/..%2ftoken",
    "/api/4.0/looks%2f..%2f..%2ftoken",
    "/api/4.0/looks%2F..%2F..%2Flogout",
    "/api/4.0/%2fevil.example/x",
    "/api/4.0/%2F%2Fevil.example/x",
    "/api/4.0/looks%5c..%5ctoken",
    "/api/4.0/looks%5C..%5Ctoken",
    "/api/4.0/looks\\..\\token",
    "/api/4.0/\\\\evil.example/x",
    "/api/4.0//evil.example/x",
    "/api/4.0///evil.example/x",
    "/api/4.0/looks//user",
    "/api/4.0/http://evil.example/x",
    "/api/4.0/http:%2f%2fevil.example/x",
    "/api/4.0/https:/evil.example",
    "/api/4.0/user%00",
    "/api/4.0/user%00.json",
    "/api/4.0/user%0d%0aX-Injected:%201",
    "/api/4.0/user%0aHost:%20evil.example",
    "/api/4.0/user%0d",
    "/api/4.0/user%09",
    "/api/4.0/user%7f",
    "/api/4.0/user\x00",
    "/api/4.0/user\x7f",
    "/api/4.0/us\x01er",
    "/api/4.0/",
    "/api/4.0/" + "a/" * 1100 + "user",
    "http://evil.example/api/4.0/user",
    "http://127.0.0.1:1/api/4.0/user",
    "https://localhost/api/4.0/user",
]

# The proxy answers each with 400 ``bad_request``.
BAD_QUERIES = [
    "/api/4.0/user?fields=id%0d%0aX-Injected:%201",
    "/api/4.0/user?fields=id%0aHost:evil.example",
    "/api/4.0/user?fields=id%00",
    "/api/4.0/user?fields=id%0D%0A",
    "/api/4.0/user?fields=\x01",
    "/api/4.0/user?fields=id\x7f",
    "/api/4.0/user?fields=\x00",
]
