"""The bounded soak at CI size: parallel users, tokens expiring every few seconds, real Redis."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from tools.soak import run_soak


@pytest.mark.slow
def test_soak_ci_size_loses_nothing_and_refreshes_once_per_expiry(redis_url: str) -> None:
    report = run_soak(
        users=8, parallel=2, duration=10.0, token_ttl=3, refresh_margin=1, redis_url=redis_url
    )
    detail = json.dumps(asdict(report), indent=1)
    assert report.ok, detail
    assert report.requests > 8 * 10, detail
    assert report.failures == 0 and report.lost_sessions == 0, detail
    # tokens of 3 s refreshed 1 s early over 10 s: every session refreshed several times
    assert report.looker_refreshes >= 8 * 3, detail
    assert report.looker_refreshes == report.session_refreshes == report.metrics_refreshes, detail
