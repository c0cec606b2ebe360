"""The per-request shortcuts keep behaviour: quick redaction check, cached metric children."""

from __future__ import annotations

import pytest

from oauth_bridge import metrics
from oauth_bridge.observability import REDACTED, redact, redact_all
from oauth_bridge.services import get_services
from tests.support.bridge import offline_app
from tests.support.secret_samples import SECRETS

# Texts where the quick check must not skip redaction, including Unicode case folding: with
# re.IGNORECASE "ſ" (long s) matches "s" and the Kelvin sign matches "k".
TRICKY = [
    "password=hunter2",
    "ſecret=hunter2",
    "api_\u212aey=hunter2",
    "BEARER abcdef",
    "TOKEN abc123defgh",
    "looker_LOGIN=abc",
    "LOOKER_SESSION=abc",
    "x gAAAAA" + "b" * 30,
    "eyJaaaaaaaaa.bbbbbbbbbb.cc",
    '{"CODE": "abc"}',
    "Code=abc",
]
# Texts that pass the quick check untouched (the usual access and error lines).
ORDINARY = [
    "GET /api/4.0/user 200",
    "POST /api/4.0/queries/run/json 201",
    "Looker did not answer in time: ReadTimeoutError",
    "status 404 for /api/4.0/dashboards/12",
    "",
]


@pytest.mark.parametrize("text", [*SECRETS.values(), *TRICKY, *ORDINARY])
def test_quick_check_gives_the_full_redaction(text: str) -> None:
    assert redact(text) == redact_all(text)


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_secrets_are_redacted(text: str) -> None:
    assert REDACTED in redact(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_lines_are_returned_as_they_are(text: str) -> None:
    assert redact(text) is text


def _sample(found: metrics.Metrics, name: str, labels: dict[str, str]) -> float | None:
    return found.registry.get_sample_value(name, labels)


def test_request_counts_stay_right_and_hostile_methods_share_one_child() -> None:
    app = offline_app()
    found = get_services(app).metrics
    route = "/api/4.0/<path:path>"
    for _ in range(3):
        found.count_request(route, "GET", 200)
    for n in range(50):
        found.count_request(route, f"BREW{n}", 200)
    found.count_request(route, "GET", 404)
    total = "oauth_bridge_http_requests_total"
    assert _sample(found, total, {"route": route, "method": "GET", "status": "200"}) == 3
    assert _sample(found, total, {"route": route, "method": "GET", "status": "404"}) == 1
    assert _sample(found, total, {"route": route, "method": "OTHER", "status": "200"}) == 50
    assert len(found._request_children) == 3  # bounded by the label sets, not by the input


def test_upstream_latency_is_observed_by_status_class() -> None:
    app = offline_app()
    found = get_services(app).metrics
    found.observe_upstream(0.02, 200)
    found.observe_upstream(0.03, 204)
    found.observe_upstream(-1.0, "timeout")  # clock step: counted as 0
    count = "oauth_bridge_proxy_upstream_seconds_count"
    seconds = "oauth_bridge_proxy_upstream_seconds_sum"
    assert _sample(found, count, {"status": "2xx"}) == 2
    assert _sample(found, seconds, {"status": "2xx"}) == pytest.approx(0.05)
    assert _sample(found, count, {"status": "timeout"}) == 1
    assert _sample(found, seconds, {"status": "timeout"}) == 0
