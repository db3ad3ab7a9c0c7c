import pytest
from django.contrib.auth.models import User
from django.test import Client

from stats.models import ScoreEvent
from stats.tests.games import game_make

STAFF_PAGE = "/staff/score/"


@pytest.fixture
def private_game(db):
    return game_make(prefix="secret", name="Hidden Vault", is_public=False)


def test_lobby_lists_only_public_games_for_anonymous(client, game, private_game):
    page = client.get("/").content.decode()
    assert "Arena" in page
    assert "Hidden Vault" not in page and f"/games/{private_game.slug}/" not in page


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
    assert client.get(f"/games/{private_game.slug}/").status_code == 404


def test_dashboard_of_a_private_game_is_open_to_staff(client, private_game):
    client.force_login(User.objects.create_user("sam", is_staff=True))
    assert client.get(f"/games/{private_game.slug}/").status_code == 200


def test_dashboard_of_an_unknown_game_is_404(client, db):
    assert client.get("/games/nosuch/").status_code == 404


@pytest.mark.parametrize("path", ["/", "/games/<slug>/", "/api/games", "/api/games/<slug>/snapshot"])
def test_pages_send_a_strict_csp_and_deny_framing(client, game, path):
    response = client.get(path.replace("<slug>", game.slug))
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
    response = staff_csrf_client.post(STAFF_PAGE, {"game": game.slug, "player": "ada", "points": 3, "kind": "score"})
    assert response.status_code == 403
    assert not ScoreEvent.objects.exists()


def test_staff_page_post_with_csrf_token_records_an_event(staff_csrf_client, game):
    staff_csrf_client.get(STAFF_PAGE)
    token = staff_csrf_client.cookies["csrftoken"].value
    form = {"game": game.slug, "player": "ada", "points": 3, "kind": "score", "csrfmiddlewaretoken": token}
    response = staff_csrf_client.post(STAFF_PAGE, form)
    assert (response.status_code, response["Location"]) == (302, f"{STAFF_PAGE}?game={game.slug}")
    event = ScoreEvent.objects.get(game=game)
    assert (event.seq, event.points, event.player.name) == (1, 3, "ada")


def test_staff_page_shows_field_errors_and_stores_nothing(admin_client, game):
    response = admin_client.post(STAFF_PAGE, {"game": game.slug, "player": "ada", "points": "lots", "kind": "score"})
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
    form = {"game": game.slug, "player": "ada", "points": 3, "kind": "score", field: value}
    response = admin_client.post(STAFF_PAGE, form)
    assert response.status_code == 200
    assert any(e.startswith(f"{field}:") for e in response.context["form"].non_field_errors())
    assert not ScoreEvent.objects.exists()


# ---- the wall screen (TV) and the stream overlays ---------------------------------------------

WALL_PAGES = ["/games/{slug}/tv/", "/games/{slug}/overlay/", "/games/{slug}/overlay/?view=ticker"]
CONTROLS = ("<button", "<input", "<select", "<textarea", "<a ", "<nav", "site-header")


@pytest.mark.parametrize("path", WALL_PAGES)
def test_wall_pages_have_no_controls_no_chrome_and_no_inline_code(client, game, path):
    response = client.get(path.format(slug=game.slug))
    page = response.content.decode()
    assert response.status_code == 200
    assert [c for c in CONTROLS if c in page] == []
    assert "<script>" not in page and "style=" not in page and "onload" not in page
    assert f'data-ws-path="/ws/games/{game.slug}/"' in page
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", WALL_PAGES)
def test_wall_pages_of_a_private_game_follow_the_dashboards_rule(client, private_game, path):
    url = path.format(slug=private_game.slug)
    assert client.get(url).status_code == 404
    assert client.get(url.replace("view=ticker", "view=nope")).status_code == 404  # not a 400: nothing leaks
    viewer = User.objects.create_user("vera")
    private_game.viewers.add(viewer)
    client.force_login(viewer)
    assert client.get(url).status_code == 200


def test_wall_pages_of_an_unknown_game_are_404(client, db):
    assert client.get("/games/nosuch/tv/").status_code == 404
    assert client.get("/games/nosuch/overlay/?view=leaderboard").status_code == 404


@pytest.mark.parametrize(
    "query,view,limit,scale,title",
    [
        ("", "leaderboard", 10, "1", True),
        ("view=leaderboard&limit=5", "leaderboard", 5, "1", True),
        ("view=scoreboard&scale=1.5&title=0", "scoreboard", 10, "1.5", False),
        ("view=ticker", "ticker", 8, "1", True),
        ("view=ticker&limit=20&scale=0.5", "ticker", 20, "0.5", True),
        ("view=leaderboard&utm_source=obs", "leaderboard", 10, "1", True),  # unknown knobs are let be
    ],
)
def test_overlay_knobs_reach_the_page(client, game, query, view, limit, scale, title):
    response = client.get(f"/games/{game.slug}/overlay/?{query}")
    page = response.content.decode()
    assert response.status_code == 200
    assert f'data-view="{view}"' in page and f'data-scale="{scale}"' in page
    assert f"overlay--{view}" in page
    assert ('class="overlay-title"' in page) is title
    if view != "scoreboard":
        assert f'data-limit="{limit}"' in page
    assert ("data-part=" + '"leaderboard"' in page) is (view == "leaderboard")


@pytest.mark.parametrize(
    "query,named",
    [
        ("view=nope", "view: 'nope' is not a view; use leaderboard, scoreboard, ticker."),
        ("view=", "view: '' is not a view"),
        ("view=Leaderboard", "view: 'Leaderboard' is not a view"),
        ("view=leaderboard&view=ticker", "view: give it once, not 2 times."),
        ("limit=0", "limit: '0' is not a whole number from 1 to 20."),
        ("limit=21", "limit: '21' is not a whole number from 1 to 20."),
        ("limit=%D9%A3", "limit: '٣' is not a whole number"),  # an Arabic-Indic 3: digits are ASCII
        ("limit=-1", "limit: '-1'"),
        ("scale=nan", "scale: 'nan' is not a number from 0.5 to 4"),
        ("scale=1e1", "scale: '1e1'"),
        ("scale=4.5", "scale: '4.5'"),
        ("title=yes", "title: 'yes' is not 0"),
    ],
)
def test_overlay_bad_knobs_are_a_400_page_naming_them_and_the_allowed_values(client, game, query, named):
    response = client.get(f"/games/{game.slug}/overlay/?{query}")
    page = response.content.decode()
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert named.replace("'", "&#x27;") in page
    for allowed in ("<code>leaderboard</code>", "<code>scoreboard</code>", "<code>ticker</code>"):
        assert allowed in page
    assert "<script" not in page


def test_overlay_400_escapes_and_shortens_what_it_was_given(client, game):
    response = client.get(f"/games/{game.slug}/overlay/", {"view": "<b>x</b>" + "y" * 100})
    page = response.content.decode()
    assert response.status_code == 400
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page
    assert "y" * 41 not in page


def test_overlay_names_every_bad_knob_at_once(client, game):
    response = client.get(f"/games/{game.slug}/overlay/?view=nope&limit=99&scale=9")
    assert response.status_code == 400
    assert [p.split(":")[0] for p in response.context["problems"]] == ["view", "limit", "scale"]
