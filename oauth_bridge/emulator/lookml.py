"""The seed LookML: the models, their one explore ``orders`` and its fields.

Read it wherever the emulator needs to know what may be queried: the LookML model endpoints
describe it, ``create_query`` checks a query's model, view and fields against it, and its field
names are the columns :func:`oauth_bridge.emulator.results.row` makes values for. Both models
share the one ``orders`` explore (``finance`` is ``thelook``'s explore for the roles that may see
finance content), so there is one field list to keep in step with the results.
"""

from __future__ import annotations

from dataclasses import dataclass

from oauth_bridge.emulator.seed import ADMIN, DEVELOPER, EDIT_ROLES, VIEWER


@dataclass(frozen=True)
class Field:
    """One dimension or measure of the ``orders`` view, as LookML declares it."""

    name: str
    label_short: str
    type: str
    is_numeric: bool
    sql: str | None
    measure: bool = False
    primary_key: bool = False
    description: str | None = None
    value_format_name: str | None = None
    dimension_group: str | None = None

    @property
    def view(self) -> str:
        return self.name.split(".", 1)[0]


@dataclass(frozen=True)
class Explore:
    name: str
    label: str
    description: str
    fields: tuple[Field, ...]
    sql_table_name: str

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)


@dataclass(frozen=True)
class Model:
    name: str
    label: str
    roles: frozenset[str]
    """Roles that may see the model and query it."""
    explores: tuple[Explore, ...]
    project_name: str = "thelook"
    connection_name: str = "thelook_db"

    def explore(self, name: str) -> Explore | None:
        return next((e for e in self.explores if e.name == name), None)


ORDERS_FIELDS = (
    Field("orders.id", "ID", "number", True, "${TABLE}.id", primary_key=True),
    Field(
        "orders.created_date",
        "Created Date",
        "date_date",
        False,
        "${TABLE}.created_at",
        dimension_group="orders.created",
    ),
    Field(
        "orders.created_month",
        "Created Month",
        "date_month",
        False,
        "${TABLE}.created_at",
        dimension_group="orders.created",
    ),
    Field("orders.status", "Status", "string", False, "${TABLE}.status"),
    Field("orders.amount", "Amount", "number", True, "${TABLE}.amount", value_format_name="usd"),
    Field("orders.count", "Count", "count", True, None, measure=True),
    Field(
        "orders.total_amount",
        "Total Amount",
        "sum",
        True,
        "${amount}",
        measure=True,
        value_format_name="usd",
    ),
)
"""The ``orders`` view's fields; :func:`~oauth_bridge.emulator.orders_table.order` answers each."""

ORDERS = Explore("orders", "Orders", "One row per order.", ORDERS_FIELDS, "demo.orders")

MODELS: dict[str, Model] = {
    "thelook": Model("thelook", "The Look", frozenset({ADMIN, DEVELOPER, VIEWER}), (ORDERS,)),
    "finance": Model("finance", "Finance", EDIT_ROLES, (ORDERS,)),
}
"""The seed models by name."""


def visible_models(role: str) -> list[Model]:
    """The models ``role`` may see, in name order."""
    return [model for name, model in sorted(MODELS.items()) if role in model.roles]
