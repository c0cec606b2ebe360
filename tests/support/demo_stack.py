"""The demo stack (emulator + bridge + SPA, and a portal page when asked) as a fixture.

Every server on a free port, sessions in the Redis at 127.0.0.1:6379 under the test's key prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from oauth_bridge.demo import DemoStack
from tests.support.redis_fixtures import free_port


@pytest.fixture
def demo_factory(redis_url: str, redis_prefix: str) -> Iterator[Callable[..., DemoStack]]:
    stacks: list[DemoStack] = []

    def make(**overrides: Any) -> DemoStack:
        settings: dict[str, Any] = {
            "bridge_port": free_port(),
            "spa_port": free_port(),
            "emulator_port": free_port(),
            "emulator_api_port": free_port(),
            "redis_url": redis_url,
            "redis_key_prefix": redis_prefix,
        }
        stack = DemoStack(**{**settings, **overrides})
        stack.start()
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
