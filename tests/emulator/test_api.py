"""API 4.0 on the emulator's API host: visibility per role, writes, errors, results, CORS."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
import requests

from oauth_bridge.emulator import EmulatorServer
from oauth_bridge.emulator.orders_table import row
from oauth_bridge.emulator.seed import ADMIN_API3, ORDER_FIELDS, seed_content
from tests.support.emulator import SEED_IDS, TEST_REDIRECT_URI, oauth_tokens

DOCS = "https://cloud.google.com/looker/docs/"


def api3_token(emulator: EmulatorServer, who: str = "admin") -> str:
    response = requests.post(
        f"{emulator.api_url}/api/4.0/login",
        data={"client_id": f"{who}-client-id", "client_secret": f"{who}-client-secret"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    return str(response.json()["access_token"])


class Api:
    """Calls to one emulator as one user."""

    def __init__(self, emulator: EmulatorServer, token: str) -> None:
        self.base = f"{emulator.api_url}/api/4.0"
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(
            method,
            self.base + path,
            headers=self.headers,
            timeout=30,
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture
def as_user(emulator: EmulatorServer, client_id: str) -> Callable[[str], Api]:
    """OAuth tokens through the real sign-in, one per seed user asked for."""

    def make(who: str) -> Api:
        return Api(emulator, oauth_tokens(emulator, who, client_id)["access_token"])

    return make


VISIBLE = {
    "admin": ({"1", "2", "3"}, {"1", "2"}, {"1", "2"}),
    "analyst": ({"1", "2", "3"}, {"1", "2"}, {"1", "2"}),
    "viewer": ({"1", "2"}, {"1"}, {"1"}),
}


@pytest.mark.parametrize("who", ["admin", "analyst", "viewer"])
def test_each_user_sees_exactly_its_content(as_user: Callable[[str], Api], who: str) -> None:
    api = as_user(who)
    looks, dashboards, folders = VISIBLE[who]
    assert {look["id"] for look in api("GET", "/looks").json()} == looks
    assert {d["id"] for d in api("GET", "/dashboards").json()} == dashboards
    assert {f["id"] for f in api("GET", "/folders").json()} == folders
    for look_id in ("1", "2", "3"):
        status = api("GET", f"/looks/{look_id}").status_code
        run = api("GET", f"/looks/{look_id}/run/json").status_code
        expected = 200 if look_id in looks else 404
        assert (status, run) == (expected, expected)
    for dashboard_id in ("1", "2"):
        response = api("GET", f"/dashboards/{dashboard_id}")
        assert response.status_code == (200 if dashboard_id in dashboards else 404)
    assert api("GET", "/queries/3/run/csv").status_code == (200 if "3" in looks else 404)


def test_schemas_use_string_ids_and_spec_field_names(as_user: Callable[[str], Api]) -> None:
    api = as_user("analyst")
    me = api("GET", "/user").json()
    assert me["id"] == "2" and me["display_name"] and me["role_ids"] == ["3"]
    look = api("GET", "/looks/1").json()
    assert look["id"] == "1" and look["query_id"] == "1" and look["folder"]["id"] == "1"
    assert look["query"]["limit"] == "10"
    dashboard = api("GET", "/dashboards/1").json()
    elements = dashboard["dashboard_elements"]
    assert [e["id"] for e in elements] == [e.id for e in seed_content().dashboards["1"].elements]
    assert [e["look_id"] for e in elements if e["look_id"]] == ["2", "1"]
    only = api("GET", "/user", params={"fields": "id,email"}).json()
    assert only == {"id": "2", "email": "analyst@example.com"}


def test_viewer_cannot_change_looks_analyst_can(as_user: Callable[[str], Api]) -> None:
    viewer, analyst = as_user("viewer"), as_user("analyst")
    refused = viewer("PATCH", "/looks/1", json={"title": "Mine"})
    assert refused.status_code == 403 and refused.json()["documentation_url"] == DOCS
    assert viewer("DELETE", "/looks/1").status_code == 403
    assert viewer("PATCH", "/looks/3", json={"title": "x"}).status_code == 404
    changed = analyst("PATCH", "/looks/1", json={"title": "Renamed"})
    assert changed.status_code == 200 and changed.json()["title"] == "Renamed"
    assert viewer("GET", "/looks/1").json()["title"] == "Renamed"
    assert analyst("DELETE", "/looks/2").status_code == 204
    assert analyst("GET", "/looks/2").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [({"title": 5}, "title"), ({"title": "  "}, "title"), ({"public": "yes"}, "public")],
)
def test_bad_bodies_answer_422_validation_error(
    as_user: Callable[[str], Api], body: dict[str, object], field: str
) -> None:
    response = as_user("admin")("PATCH", "/looks/1", json=body)
    assert response.status_code == 422
    payload = response.json()
    assert payload["message"] == "Validation Failed"
    assert payload["documentation_url"] == DOCS
    assert payload["errors"][0]["field"] == field
    assert set(payload["errors"][0]) == {"field", "code", "message", "documentation_url"}


def test_missing_bad_and_unknown_auth_answer_looker_401(emulator: EmulatorServer) -> None:
    expected = {"message": "Requires authentication.", "documentation_url": DOCS}
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = requests.get(f"{emulator.api_url}/api/4.0/user", headers=headers, timeout=10)
        assert response.status_code == 401 and response.json() == expected


def test_unknown_paths_answer_looker_404(emulator: EmulatorServer) -> None:
    token = api3_token(emulator)
    for path in ("/api/4.0/nothing_here", "/api/3.1/user", "/api/4.0/looks/99"):
        response = requests.get(
            emulator.api_url + path, headers={"Authorization": f"token {token}"}, timeout=10
        )
        assert response.status_code == 404
        assert response.json() == {"message": "Not found", "documentation_url": DOCS}


def test_api3_login_sudo_and_bad_credentials(emulator: EmulatorServer) -> None:
    admin = Api(emulator, api3_token(emulator))
    sudo = admin("POST", "/login/3")
    assert sudo.status_code == 200
    as_viewer = Api(emulator, sudo.json()["access_token"])
    assert as_viewer("GET", "/user").json()["email"] == "viewer@example.com"
    assert as_viewer("POST", "/login/1").status_code == 403
    bad = requests.post(
        f"{emulator.api_url}/api/4.0/login",
        data={"client_id": ADMIN_API3[0], "client_secret": "wrong"},
        timeout=10,
    )
    assert bad.status_code == 404 and bad.json()["message"] == "Not found"


def test_users_admin_only_writes(as_user: Callable[[str], Api]) -> None:
    admin, analyst = as_user("admin"), as_user("analyst")
    assert {u["id"] for u in admin("GET", "/users").json()} == {"1", "2", "3"}
    assert {u["id"] for u in analyst("GET", "/users").json()} == {"2"}
    assert analyst("GET", "/users/1").status_code == 404
    assert analyst("PATCH", "/users/3", json={"is_disabled": True}).status_code == 403
    assert analyst("DELETE", "/users/3").status_code == 403
    assert admin("PATCH", "/users/3", json={"is_disabled": "yes"}).status_code == 422
    assert admin("DELETE", "/users/99").status_code == 404


def test_client_app_crud_is_admin_only(emulator: EmulatorServer, client_id: str) -> None:
    admin = Api(emulator, api3_token(emulator))
    viewer = Api(emulator, api3_token(emulator, "viewer"))
    body = {"redirect_uri": "https://x.example.test/cb", "display_name": "X", "enabled": True}
    assert viewer("POST", "/oauth_client_apps/x-app", json=body).status_code == 404
    created = admin("POST", "/oauth_client_apps/x-app", json=body)
    assert created.status_code == 200
    assert created.json()["client_guid"] == "x-app"
    assert created.json()["redirect_uri"] == "https://x.example.test/cb"
    assert admin("POST", "/oauth_client_apps/x-app", json=body).status_code == 409
    assert admin("POST", "/oauth_client_apps/y", json={"display_name": "Y"}).status_code == 422
    listed = {a["client_guid"] for a in admin("GET", "/oauth_client_apps").json()}
    assert listed == {client_id, "x-app"}
    updated = admin("PATCH", "/oauth_client_apps/x-app", json={"enabled": False})
    assert updated.json()["enabled"] is False
    assert viewer("GET", "/oauth_client_apps/x-app").status_code == 404
    assert admin("DELETE", "/oauth_client_apps/x-app").status_code == 204
    assert admin("GET", "/oauth_client_apps/x-app").status_code == 404


def test_invalidate_tokens_and_deactivate_user_endpoints(
    emulator: EmulatorServer, client_id: str
) -> None:
    admin = Api(emulator, api3_token(emulator))
    viewer_token = oauth_tokens(emulator, "viewer", client_id)["access_token"]
    viewer = Api(emulator, viewer_token)
    app = admin("GET", f"/oauth_client_apps/{client_id}").json()
    assert [u["id"] for u in app["activated_users"]] == [SEED_IDS["viewer"]]
    assert admin("DELETE", f"/oauth_client_apps/{client_id}/users/3").status_code == 204
    assert viewer("GET", "/user").status_code == 401
    analyst = Api(emulator, oauth_tokens(emulator, "analyst", client_id)["access_token"])
    assert admin("DELETE", f"/oauth_client_apps/{client_id}/tokens").status_code == 204
    assert analyst("GET", "/user").status_code == 401
    after = admin("GET", f"/oauth_client_apps/{client_id}").json()
    assert after["tokens_invalid_before"]


def test_results_json_and_csv_agree(as_user: Callable[[str], Api]) -> None:
    api = as_user("analyst")
    rows = api("GET", "/looks/1/run/json", params={"limit": "25"}).json()
    table = list(csv.DictReader(io.StringIO(api("GET", "/looks/1/run/csv?limit=25").text)))
    assert len(rows) == len(table) == 25
    assert [str(r["orders.id"]) for r in rows] == [r["orders.id"] for r in table]
    detail = api("GET", "/queries/1/run/json_detail", params={"limit": "3"}).json()
    assert [r["orders.id"]["value"] for r in detail["data"]] == [1, 2, 3]
    inline = api(
        "POST",
        "/queries/run/json",
        json={"model": "thelook", "view": "orders", "fields": ["orders.status"], "limit": "4"},
    )
    assert inline.status_code == 200 and len(inline.json()) == 4
    viewer = as_user("viewer")
    body = {"model": "thelook", "view": "orders", "fields": ["orders.status"]}
    assert viewer("POST", "/queries/run/json", json=body).status_code == 403
    shapeless = viewer("POST", "/queries/run/json", json={"model": "thelook"})
    assert shapeless.status_code == 422  # the spec's shape is checked before the permission
    assert shapeless.json()["errors"][0]["field"] == "view"
    assert api("GET", "/looks/1/run/png").status_code == 400
    assert api("GET", "/looks/1/run/csv", params={"limit": "5000001"}).status_code == 422


def test_large_csv_is_streamed_while_it_is_being_made(
    emulator: EmulatorServer, as_user: Callable[[str], Api]
) -> None:
    api = as_user("viewer")
    with api("GET", "/looks/1/run/csv", params={"limit": "5000000"}, stream=True) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/csv")
        assert "Content-Length" not in response.headers
        chunks = response.iter_content(chunk_size=65536)
        first = next(chunks)
        assert first.startswith(b"orders.id,orders.created_date,orders.status,orders.amount\n1,")
        second = next(chunks)
        assert second
        # The client holds under a few MB; 5,000,000 rows are ~150 MB: still being produced.
        assert emulator.state.streams_started == 1
        assert emulator.state.streams_completed == 0
        assert 0 < emulator.state.rows_streamed < 5_000_000


def test_a_complete_large_json_result_is_valid(as_user: Callable[[str], Api]) -> None:
    response = as_user("admin")("GET", "/queries/1/run/json", params={"limit": "20000"})
    rows = json.loads(response.content)
    fields = ORDER_FIELDS
    assert len(rows) == 20000
    assert rows[0] == row(fields, 1) and rows[-1] == row(fields, 20000)


def test_cors_allowlist_echoes_exact_origin(
    emulator_factory: Callable[..., EmulatorServer],
) -> None:
    emulator = emulator_factory(cors_origins=("http://localhost:5173",))
    emulator.state.register_client_app("app", TEST_REDIRECT_URI)
    token = oauth_tokens(emulator, "viewer", "app")["access_token"]
    url = f"{emulator.api_url}/api/4.0/user"
    preflight = requests.options(
        url,
        headers={
            "Origin": "http://localhost:5173",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization,x-looker-appid",
        },
        timeout=10,
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "content-type", "x-looker-appid"} <= {
        h.strip() for h in allowed.split(",")
    }
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    call = requests.get(
        url,
        headers={"Origin": "http://localhost:5173", "Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert call.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
    assert "Origin" in call.headers["Vary"]
    denied = requests.get(
        url, headers={"Origin": "http://localhost:5174", "Authorization": f"Bearer {token}"}
    )
    assert "Access-Control-Allow-Origin" not in denied.headers
    bad_preflight = requests.options(
        url,
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        timeout=10,
    )
    assert bad_preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in bad_preflight.headers


def test_login_refuses_cors_even_for_allowed_origins(
    emulator_factory: Callable[..., EmulatorServer],
) -> None:
    emulator = emulator_factory(cors_origins=("http://localhost:5173",))
    response = requests.post(
        f"{emulator.api_url}/api/4.0/login",
        data={"client_id": ADMIN_API3[0], "client_secret": ADMIN_API3[1]},
        headers={"Origin": "http://localhost:5173"},
        timeout=10,
    )
    assert response.status_code == 403
    assert "access_token" not in response.text
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = requests.options(
        f"{emulator.api_url}/api/4.0/login",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"},
        timeout=10,
    )
    assert preflight.status_code == 403
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.parametrize("path", ["/api/4.0/versions", "/versions"])
def test_versions_needs_no_auth_and_names_both_hosts(emulator: EmulatorServer, path: str) -> None:
    """Both where the SDKs look and at the API host's root, where Looker's own OAuth set-up form
    reads it (sdk-codegen extension-utils OAuthForm sagas.ts: `${apiServerUrl}/versions`)."""
    with requests.get(f"{emulator.api_url}{path}", timeout=10) as answer:
        assert answer.status_code == 200
        body = answer.json()
    assert body["web_server_url"] == emulator.ui_url
    assert body["api_server_url"] == emulator.api_url
    assert body["current_version"]["version"] == "4.0"
    assert body["current_version"]["full_version"] == "4.0.26.12"


def test_request_log_redacts_tokens_and_control_endpoints(emulator: EmulatorServer) -> None:
    token = api3_token(emulator)
    requests.get(
        f"{emulator.api_url}/api/4.0/user?fields=id",
        headers={"Authorization": f"token {token}"},
        timeout=10,
    )
    record = emulator.state.request_log[-1]
    assert (record.method, record.path, record.query_string) == (
        "GET",
        "/api/4.0/user",
        "fields=id",
    )
    assert record.headers["Authorization"] == "token"
    logged = requests.get(f"{emulator.api_url}/_emulator/requests", timeout=10).json()
    assert token not in json.dumps(logged)
    assert logged[0]["path"] == "/api/4.0/login" and logged[0]["body_size"] > 0
    assert "admin-client-secret" not in json.dumps(logged)
    stats = requests.get(f"{emulator.api_url}/_emulator/stats", timeout=10).json()
    assert stats["request_count"] == 2
    assert stats["token_requests"] == {"authorization_code": 0, "refresh_token": 0}


def test_control_config_and_reset(emulator: EmulatorServer, client_id: str) -> None:
    base = f"{emulator.api_url}/_emulator"
    changed = requests.post(
        f"{base}/config", json={"token_ttl": 5, "refresh_rotation": False}, timeout=10
    )
    assert changed.status_code == 200 and changed.json()["token_ttl"] == 5
    assert emulator.state.config.refresh_rotation is False
    assert oauth_tokens(emulator, "viewer", client_id)["expires_in"] == 5
    assert requests.post(f"{base}/config", json={"token_ttl": "x"}, timeout=10).status_code == 422
    assert requests.post(f"{base}/config", json={"cors_origins": []}, timeout=10).status_code == 422
    from_browser = requests.post(
        f"{base}/reset", headers={"Origin": "http://localhost:1234"}, timeout=10
    )
    assert from_browser.status_code == 403
    assert requests.post(f"{base}/reset", timeout=10).status_code == 204
    assert emulator.state.get_app(client_id) is None
    assert requests.get(f"{base}/stats", timeout=10).json()["request_count"] == 0


def test_api_delay_holds_back_api_answers(emulator: EmulatorServer) -> None:
    token = api3_token(emulator)
    emulator.state.update_config(api_delay=3.0)
    with pytest.raises(requests.ReadTimeout):
        requests.get(
            f"{emulator.api_url}/api/4.0/user",
            headers={"Authorization": f"token {token}"},
            timeout=(5, 0.3),
        )
    emulator.state.update_config(api_delay=0.0)
    quick = requests.get(
        f"{emulator.api_url}/api/4.0/user", headers={"Authorization": f"token {token}"}, timeout=10
    )
    assert quick.status_code == 200
