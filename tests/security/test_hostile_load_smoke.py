"""The hostile-load tool at smoke size: it starts its own Redis, emulator and gunicorn bridge,
attacks it with slow bodies and anonymous sign-ins, and its report says every goal held."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_hostile_load_quick_run_meets_its_goals() -> None:
    run = subprocess.run(
        [sys.executable, "tools/hostile_load.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.stdout, run.stderr[-3000:]
    report = json.loads(run.stdout)
    detail = json.dumps(report, indent=1) + run.stderr[-2000:]
    assert run.returncode == 0, detail
    assert report["ok"] is True and all(report["goals"].values()), detail
    calls = report["signed_in_calls"]
    assert calls["total"] > 0 and calls["failed"] == 0, detail
    assert calls["latency_s"]["max"] < report["plan"]["max_latency"], detail
    assert report["sessions"] == {"checked": 3, "lost": 0, "lost_users": []}, detail
    assert report["redis"]["used_memory_peak"] < report["redis"]["maxmemory"], detail
    # the attack really ran: every slow connection and every sign-in is accounted for
    assert sum(report["slow_bodies"]["ended"].values()) == 50, detail
    assert report["anonymous_logins"]["sent"] == 50, detail
