"""Keeps the benchmark working: ``bench/run.py --quick`` runs every section end to end.

Real servers, real Redis, real wrk: tiny sizes only. Figures are checked for presence and for
what they say about correctness (every request answered 200, the stream arrived whole, sessions
written in section 2 open with the bridge's own store); never for speed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "report.json"
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick", "--json-out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    data: dict[str, Any] = json.loads(out.read_text())
    return data


@pytest.mark.slow
def test_all_sections_present_without_errors(report: dict[str, Any]) -> None:
    assert report["errors"] == {}
    for section in (
        "1_proxy_overhead",
        "2_redis",
        "3_streaming",
        "4_slow_upstream",
        "5_login",
    ):
        assert section in report, section


@pytest.mark.slow
def test_overhead_has_figures_for_all_five_legs(report: dict[str, Any]) -> None:
    s1 = report["1_proxy_overhead"]
    configs = s1["configs"]
    assert set(configs) == {
        "a_fixed_upstream",
        "b_nginx_proxy",
        "c_node_peer",
        "d_bridge_embedded",
        "e_bridge_nginx_mode",
    }
    for name, levels in configs.items():
        assert set(levels) == {"1", "16", "64"}, name
        for level, figures in levels.items():
            for key in ("rps", "p50_ms", "p99_ms"):
                assert _number(figures[key]) and figures[key] > 0, (name, level, key)
            # Every request through every leg was answered 200 (the bridge's legs: admitted
            # by a real session, so a refusal would show here as non-2xx).
            assert figures["requests"] > 0, (name, level)
            assert figures["non_2xx"] == 0, (name, level)
            assert figures["socket_errors"] == 0, (name, level)
        assert _number(s1["cpu_us_per_request"][name]) and s1["cpu_us_per_request"][name] > 0
    for level in ("1", "16", "64"):
        for mode in ("embedded", "nginx"):
            for key in (
                "over_node_rps",
                "over_floor_rps",
                "minus_node_p50_ms",
                "minus_node_p99_ms",
            ):
                assert _number(s1["ratios"][level][f"{mode}_{key}"]), (level, mode, key)


@pytest.mark.slow
def test_redis_section_counts_commands_and_bytes(report: dict[str, Any]) -> None:
    s2 = report["2_redis"]
    assert _number(s2["client_commands_per_request"]) and s2["client_commands_per_request"] > 0
    assert s2["commandstats_per_request"], "INFO commandstats showed no commands at all"
    assert s2["session_readable_by_bridge"] is True
    assert s2["sessions_loaded"] == 1000
    for key in ("memory_usage_bytes_per_session_key", "used_memory_bytes_per_session"):
        assert _number(s2[key]) and s2[key] > 0, key


@pytest.mark.slow
def test_streaming_arrives_whole(report: dict[str, Any]) -> None:
    s3 = report["3_streaming"]
    assert s3["complete"] is True
    assert s3["bytes_received"] == s3["size_mb"] * 1024 * 1024
    for key in ("direct_mb_per_s", "bridge_mb_per_s", "worker_peak_rss_mb", "peak_rss_growth_mb"):
        assert _number(s3[key]), key


@pytest.mark.slow
def test_slow_upstream_reports_each_worker_class(report: dict[str, Any]) -> None:
    s4 = report["4_slow_upstream"]
    assert s4["procfile_worker_class"] in s4["by_worker_class"]
    procfile = s4["procfile"]
    assert procfile["succeeded"] + procfile["failed"] == s4["requests"]
    # every candidate server measured (issue 12): gunicorn's two worker classes and granian
    assert set(s4["by_worker_class"]) == {"gevent", "gthread", "granian"}
    for name, figures in s4["by_worker_class"].items():
        assert figures["succeeded"] + figures["failed"] == s4["requests"], name
    assert _number(procfile["wall_s"])


@pytest.mark.slow
def test_sign_ins_complete(report: dict[str, Any]) -> None:
    s5 = report["5_login"]
    assert s5["failures"] == []
    assert s5["sign_ins"] >= 1
    assert _number(s5["sign_ins_per_second"])


@pytest.mark.slow
def test_targets_are_printed_beside_figures(report: dict[str, Any]) -> None:
    names = {row["target"] for row in report["targets"]}
    assert "Redis commands / request" in names
    assert all(_number(row["figure"]) for row in report["targets"]), report["targets"]
