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


@dataclass(frozen=True)
class Tile:
    """Where a dashboard element sits in its dashboard's layout: Looker's "newspaper" grid of
    24 columns, rows and heights in grid units (``DashboardLayoutComponent``)."""

    row: int
    column: int
    width: int
    height: int


@dataclass
class DashboardElement:
    """One tile: a saved look's, or a query of its own (Looker's "query tile"), placed by
    ``tile``. Its chart is its query's ``vis_config``."""

    id: str
    title: str
    tile: Tile
    look_id: str | None = None
    query_id: str | None = None


@dataclass
class Dashboard:
    id: str
    title: str
    description: str
    folder_id: str
    elements: list[DashboardElement] = field(default_factory=list)
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

    def element_query_id(self, element: DashboardElement) -> str | None:
        """The query a dashboard element runs: its look's, for a look's tile, else its own."""
        look = self.looks.get(element.look_id) if element.look_id else None
        return look.query_id if look is not None else element.query_id


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


def _query(
    query_id: str,
    model: str,
    fields: list[str],
    limit: int,
    vis_type: str,
    sorts: list[str] | None = None,
    pivots: list[str] | None = None,
    **vis: Any,
) -> Query:
    """A seed query over the ``orders`` explore, drawn as ``vis_type`` (a Looker chart type)."""
    settings: dict[str, Any] = {"vis_config": {"type": vis_type, **vis}}
    if sorts:
        settings["sorts"] = sorts
    if pivots:
        settings["pivots"] = pivots
    return Query(query_id, model, "orders", fields, limit, settings=settings)


def seed_content() -> Content:
    everyone = frozenset({ADMIN, DEVELOPER, VIEWER})
    folders = {
        "1": Folder("1", "Shared", everyone),
        "2": Folder("2", "Finance", EDIT_ROLES, parent_id="1"),
    }
    queries = {
        "1": _query("1", "thelook", list(ORDER_FIELDS), 10, "looker_grid"),
        "2": _query("2", "thelook", ["orders.status", "orders.count"], 500, "looker_column"),
        "3": _query("3", "finance", list(ORDER_FIELDS), 20, "looker_grid"),
        "4": _query("4", "thelook", ["orders.count"], 1, "single_value"),
        "5": _query("5", "thelook", ["orders.total_amount"], 1, "single_value"),
        "6": _query("6", "thelook", ["orders.status", "orders.total_amount"], 500, "looker_pie"),
        "7": _query(
            "7", "thelook", ["orders.created_month", "orders.total_amount"], 500, "looker_line",
            sorts=["orders.created_month"],
        ),
        "8": _query(
            "8", "thelook", ["orders.created_month", "orders.status", "orders.count"], 500,
            "looker_area", sorts=["orders.created_month"], pivots=["orders.status"],
            stacking="normal",
        ),
        "9": _query(
            "9", "thelook", ["orders.created_month", "orders.count"], 500, "looker_bar",
            sorts=["orders.created_month"],
        ),
        "10": _query("10", "finance", ["orders.total_amount"], 1, "single_value"),
        "11": _query(
            "11", "finance", ["orders.created_month", "orders.total_amount"], 500,
            "looker_column", sorts=["orders.created_month"],
        ),
    }  # fmt: skip
    looks = {
        "1": Look("1", "Orders by day", "Every order, one row each.", "1", "1"),
        "2": Look("2", "Order status", "Orders by status.", "1", "2"),
        "3": Look("3", "Revenue detail", "Finance only: revenue per order.", "2", "3"),
    }
    dashboards = {
        "1": Dashboard("1", "Business pulse", "Orders at a glance.", "1", [
            DashboardElement("11", "Orders", Tile(0, 0, 8, 4), query_id="4"),
            DashboardElement("12", "Revenue", Tile(0, 8, 8, 4), query_id="5"),
            # on the finance model: listed for everyone, run only by the roles that see it
            DashboardElement("13", "Finance revenue", Tile(0, 16, 8, 4), query_id="10"),
            DashboardElement("14", "Revenue by status", Tile(4, 0, 8, 8), query_id="6"),
            DashboardElement("15", "Order status", Tile(4, 8, 16, 8), look_id="2"),
            DashboardElement("16", "Revenue by month", Tile(12, 0, 24, 6), query_id="7"),
            DashboardElement("17", "Orders by month and status", Tile(18, 0, 12, 8),
                             query_id="8"),
            DashboardElement("18", "Orders by month", Tile(18, 12, 12, 8), query_id="9"),
            DashboardElement("19", "Orders by day", Tile(26, 0, 24, 6), look_id="1"),
        ]),
        "2": Dashboard("2", "Finance overview", "Finance only.", "2", [
            DashboardElement("21", "Finance revenue", Tile(0, 0, 8, 4), query_id="10"),
            DashboardElement("22", "Monthly revenue", Tile(0, 8, 16, 8), query_id="11"),
            DashboardElement("23", "Revenue detail", Tile(8, 0, 24, 6), look_id="3"),
        ]),
    }  # fmt: skip
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
