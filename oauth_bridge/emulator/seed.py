"""Seed data: three users of three roles, and content two of them see and one does not.

The one place the seed users and their passwords are written (:data:`SEED_USERS`); the demo,
the tools, the benchmark and the tests read them from here. The ids are strings, as in the
Looker 4.0 spec. :func:`seed_users` and :func:`seed_content`
return fresh objects each call, so ``POST /_emulator/reset`` restores them exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ADMIN, DEVELOPER, VIEWER = "Admin", "Developer", "Viewer"
ROLE_IDS = {ADMIN: "2", DEVELOPER: "3", VIEWER: "4"}
EDIT_ROLES = frozenset({ADMIN, DEVELOPER})
"""Roles that may change or delete content and run ad-hoc queries (Looker's ``explore``)."""


@dataclass
class User:
    id: str
    email: str
    password: str
    role: str
    first_name: str
    last_name: str
    api3: tuple[tuple[str, str], ...] = ()
    """API3 credentials (client_id, client_secret) bound to this user."""
    is_disabled: bool = False
    locale: str = "en"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Folder:
    id: str
    name: str
    roles: frozenset[str]
    """Roles that can see the folder and everything in it."""
    parent_id: str | None = None


@dataclass
class Query:
    id: str
    model: str
    view: str
    fields: list[str]
    limit: int
    slug: str | None = None
    """``None`` for the seed queries, whose slug is ``q<id>``; ``create_query`` draws one."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The other writable ``Query`` keys a ``create_query`` body set (sorts, filters, …)."""

    @property
    def slug_or_default(self) -> str:
        return self.slug or f"q{self.id}"


@dataclass
class Look:
    id: str
    title: str
    description: str
    folder_id: str
    query_id: str
    user_id: str = "1"
    deleted: bool = False
    public: bool = False


@dataclass
class Dashboard:
    id: str
    title: str
    description: str
    folder_id: str
    look_ids: list[str] = field(default_factory=list)
    user_id: str = "1"


@dataclass(frozen=True)
class QueryTask:
    """An async run of a saved query (``create_query_task``), ready ``ready_at`` (monotonic)."""

    id: str
    query_id: str
    user_id: str
    result_format: str
    rows: int
    ready_at: float
    source: str | None = None
    look_id: str | None = None
    dashboard_id: str | None = None


@dataclass
class SqlQuery:
    """A SQL Runner query (``create_sql_query``): a statement saved under a slug, with its runs."""

    slug: str
    sql: str
    connection_name: str
    model_name: str | None
    user_id: str
    vis_config: dict[str, Any] | None = None
    run_count: int = 0
    last_run_at: str | None = None
    last_runtime: float | None = None


@dataclass
class Content:
    folders: dict[str, Folder]
    queries: dict[str, Query]
    looks: dict[str, Look]
    dashboards: dict[str, Dashboard]
    query_tasks: dict[str, QueryTask] = field(default_factory=dict)
    sql_queries: dict[str, SqlQuery] = field(default_factory=dict)


@dataclass(frozen=True)
class SeedUser:
    """One seed user as everything outside the emulator knows it: the demo's printed help, the
    test fixtures, the soak tool and the benchmark sign in with these, so they are written once."""

    key: str
    """A short name for tests and tools (``"admin"``, ``"analyst"``, ``"viewer"``)."""
    id: str
    email: str
    password: str
    role: str
    first_name: str
    last_name: str
    api3: tuple[str, str]
    """API3 credentials (client_id, client_secret) bound to this user."""


SEED_USERS = (
    SeedUser(
        "admin",
        "1",
        "admin@example.com",
        "looker-admin",
        ADMIN,
        "Ada",
        "Admin",
        ("admin-client-id", "admin-client-secret"),
    ),
    SeedUser(
        "analyst",
        "2",
        "analyst@example.com",
        "looker-analyst",
        DEVELOPER,
        "Ann",
        "Analyst",
        ("analyst-client-id", "analyst-client-secret"),
    ),
    SeedUser(
        "viewer",
        "3",
        "viewer@example.com",
        "looker-viewer",
        VIEWER,
        "Vic",
        "Viewer",
        ("viewer-client-id", "viewer-client-secret"),
    ),
)
SEED_BY_KEY = {user.key: user for user in SEED_USERS}
ADMIN_API3 = SEED_BY_KEY["admin"].api3
"""The Admin's API3 credentials: what ``register-client`` (looker-sdk) signs in with."""


def credentials(key: str) -> tuple[str, str]:
    """(email, password) of the seed user ``key``: what the sign-in form takes."""
    user = SEED_BY_KEY[key]
    return user.email, user.password


def seed_users() -> dict[str, User]:
    """Fresh :class:`User` objects for :data:`SEED_USERS`, by id."""
    users = [
        User(s.id, s.email, s.password, s.role, s.first_name, s.last_name, api3=(s.api3,))
        for s in SEED_USERS
    ]
    return {user.id: user for user in users}


ORDER_FIELDS = ["orders.id", "orders.created_date", "orders.status", "orders.amount"]


def seed_content() -> Content:
    everyone = frozenset({ADMIN, DEVELOPER, VIEWER})
    folders = {
        "1": Folder("1", "Shared", everyone),
        "2": Folder("2", "Finance", EDIT_ROLES, parent_id="1"),
    }
    queries = {
        "1": Query("1", "thelook", "orders", list(ORDER_FIELDS), 10),
        "2": Query("2", "thelook", "orders", ["orders.status", "orders.amount"], 5),
        "3": Query("3", "finance", "orders", list(ORDER_FIELDS), 20),
    }
    looks = {
        "1": Look("1", "Orders by day", "Every order, newest first.", "1", "1"),
        "2": Look("2", "Order status", "Orders by status.", "1", "2"),
        "3": Look("3", "Revenue detail", "Finance only: revenue per order.", "2", "3"),
    }
    dashboards = {
        "1": Dashboard("1", "Business pulse", "Orders at a glance.", "1", ["1", "2"]),
        "2": Dashboard("2", "Finance overview", "Finance only.", "2", ["3"]),
    }
    return Content(folders, queries, looks, dashboards)


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    user_ids: frozenset[str]


GROUPS = (
    Group("1", "All Users", frozenset(user.id for user in SEED_USERS)),
    Group("2", "Analysts", frozenset({SEED_BY_KEY["analyst"].id})),
    Group("3", "Finance", frozenset({SEED_BY_KEY["admin"].id})),
)
"""Looker puts every user in "All Users" (id 1); the other two give searches something to find."""


def group_ids_of(user_id: str) -> list[str]:
    """The ids of the groups ``user_id`` is in (``User.group_ids``)."""
    return [group.id for group in GROUPS if user_id in group.user_ids]


@dataclass(frozen=True)
class UserAttribute:
    id: str
    name: str
    label: str
    type: str
    default_value: str | None = None
    is_system: bool = False
    user_values: tuple[tuple[str, str], ...] = ()
    """(user id, value) set on users themselves; system attributes take the user's own fields."""


USER_ATTRIBUTES = (
    # Looker's built-in attributes, filled from each user's own record
    UserAttribute("1", "email", "Email", "string", is_system=True),
    UserAttribute("2", "first_name", "First Name", "string", is_system=True),
    UserAttribute("3", "last_name", "Last Name", "string", is_system=True),
    UserAttribute("4", "name", "Name", "string", is_system=True),
    UserAttribute("5", "locale", "Locale", "string", is_system=True),
    # an instance's own: what row-level access filters and extensions usually read
    UserAttribute(
        "6", "region", "Region", "string", default_value="EMEA", user_values=(("3", "AMER"),)
    ),
    UserAttribute("7", "sales_team", "Sales Team", "string", user_values=(("2", "North"),)),
)
