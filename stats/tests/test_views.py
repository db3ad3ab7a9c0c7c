import pytest
from django.contrib.auth.models import User
from django.test import Client

from stats import services
from stats.models import ScoreEvent

STAFF_PAGE = "/staff/score/"


@pytest.fixture
def private_game(db):
    return services.game_create(slug="secret", name="Hidden Vault", is_public=False)


def test_lobby_lists_only_public_games_for_anonymous(client, game, private_game):
    page = client.get("/").content.decode()
    assert "Arena" in page
    assert "Hidden Vault" not in page and "/games/secret/" not in page


def test_lobby_lists_the_private_game_for_a_listed_viewer(client, game, private_game):
    user = User.objects.create_user("vera")
    private_game.viewers.add(user)
    client.force_login(user)
    assert "Hidden Vault" in client.get("/").content.decode()


def test_dashboard_of_a_public_game_renders(client, game):
    response = client.get(f"/games/{game.slug}/")
    assert response.status_code == 200
    assert "Arena" in response.content.decode()


def test_dashboard_of_a_private_game_is_404_for_anonymous(client, private_game):
    assert client.get("/games/secret/").status_code == 404


def test_dashboard_of_a_private_game_is_open_to_staff(client, private_game):
    client.force_login(User.objects.create_user("sam", is_staff=True))
    assert client.get("/games/secret/").status_code == 200


def test_dashboard_of_an_unknown_game_is_404(client, db):
    assert client.get("/games/nosuch/").status_code == 404


@pytest.mark.parametrize("path", ["/", "/games/arena/", "/api/games", "/api/games/arena/snapshot"])
def test_pages_send_a_strict_csp_and_deny_framing(client, game, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_pages_have_no_inline_script(client, game):
    for path in ("/", f"/games/{game.slug}/"):
        page = client.get(path).content.decode()
        assert "<script>" not in page and "onclick=" not in page.lower()


def test_staff_page_sends_anonymous_to_login(client, db):
    response = client.get(STAFF_PAGE)
    assert (response.status_code, response["Location"].split("?")[0]) == (302, "/admin/login/")


def test_staff_page_sends_a_non_staff_user_to_login(client, db):
    client.force_login(User.objects.create_user("otto"))
    assert client.get(STAFF_PAGE).status_code == 302


@pytest.fixture
def staff_csrf_client(db):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_user("sam", is_staff=True))
    return client


def test_staff_page_post_without_csrf_token_is_refused(staff_csrf_client, game):
    response = staff_csrf_client.post(STAFF_PAGE, {"game": "arena", "player": "ada", "points": 3, "kind": "score"})
    assert response.status_code == 403
    assert not ScoreEvent.objects.exists()


def test_staff_page_post_with_csrf_token_records_an_event(staff_csrf_client, game):
    staff_csrf_client.get(STAFF_PAGE)
    token = staff_csrf_client.cookies["csrftoken"].value
    form = {"game": "arena", "player": "ada", "points": 3, "kind": "score", "csrfmiddlewaretoken": token}
    response = staff_csrf_client.post(STAFF_PAGE, form)
    assert (response.status_code, response["Location"]) == (302, f"{STAFF_PAGE}?game=arena")
    event = ScoreEvent.objects.get(game=game)
    assert (event.seq, event.points, event.player.name) == (1, 3, "ada")


def test_staff_page_shows_field_errors_and_stores_nothing(admin_client, game):
    response = admin_client.post(STAFF_PAGE, {"game": "arena", "player": "ada", "points": "lots", "kind": "score"})
    assert response.status_code == 200
    assert response.context["form"].errors["points"]
    assert not ScoreEvent.objects.exists()


def test_openapi_document_is_served_as_json(client):
    response = client.get("/api/openapi.json")
    assert (response.status_code, response.json()["openapi"]) == (200, "3.1.0")


@pytest.mark.parametrize(
    "field,value", [("kind", "correction"), ("player", "\u3164"), ("player", "\u2800"), ("player", "\ufb2c" * 22)]
)
def test_staff_page_applies_the_apis_rules_and_stores_nothing(admin_client, game, field, value):
    """A correction is made by editing the event in the admin (linked to it), never typed in."""
    form = {"game": "arena", "player": "ada", "points": 3, "kind": "score", field: value}
    response = admin_client.post(STAFF_PAGE, form)
    assert response.status_code == 200
    assert any(e.startswith(f"{field}:") for e in response.context["form"].non_field_errors())
    assert not ScoreEvent.objects.exists()
