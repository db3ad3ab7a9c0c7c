"""Login throttling and sign-up limits (issue #19): stats.accounts.throttle (django-axes with its
counts in Redis), stats.accounts.gate and the sign-up view.

Each test has its own users and client addresses (an IPv6 /64 of its own: the limits count
IPv6 per /64), so no two tests share a Redis counter, in any order. The suite turns the
limits off (webgame/test_settings.py); each test here sets them."""

import re
import secrets
import socket
import time
from unittest import mock

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import User
from django.test import Client

from stats.ratelimit import address_pick

PASSWORD = "a-long-enough-pass-42"
LIMIT = 10


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LOGIN_MAX_FAILURES = LIMIT
    settings.LOGIN_LOCKOUT_SECONDS = 900


def address() -> str:
    """A client address no other test uses."""
    return f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::{secrets.randbelow(9000) + 1}"


def name() -> str:
    return f"u{secrets.token_hex(6)}"


def user_make(*, staff: bool = False) -> User:
    return User.objects.create_user(name(), password=PASSWORD, is_staff=staff)


def attempt(username: str, password: str, *, addr: str, path: str = "/accounts/login/", client=None):
    client = client or Client(REMOTE_ADDR=addr)
    return client.post(path, {"username": username, "password": password}, REMOTE_ADDR=addr)


def logged_in(response) -> bool:
    return SESSION_KEY in response.wsgi_request.session


@pytest.fixture
def hashes(monkeypatch):
    """How many times the password backend ran (each run hashes once, known user or not)."""
    calls = []
    real = ModelBackend.authenticate

    def counted(self, request, username=None, password=None, **kwargs):
        calls.append(username)
        return real(self, request, username=username, password=password, **kwargs)

    monkeypatch.setattr(ModelBackend, "authenticate", counted)
    return calls


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_a_user_is_locked_after_ten_wrong_passwords_from_any_addresses(db, hashes, path):
    user = user_make(staff=True)
    statuses = [attempt(user.username, f"wrong-{n}", addr=address(), path=path).status_code for n in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]
    assert len(hashes) == LIMIT

    right = attempt(user.username, PASSWORD, addr=address(), path=path)  # a fresh address, the right password
    assert right.status_code == 429 and not logged_in(right)
    assert len(hashes) == LIMIT  # refused before any password was hashed


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
def test_an_address_is_locked_after_ten_wrong_passwords_for_any_users(db, hashes, path):
    addr, user = address(), user_make(staff=True)
    statuses = [attempt(name(), "wrong", addr=addr, path=path).status_code for _ in range(LIMIT)]
    assert statuses == [200] * (LIMIT - 1) + [429]

    right = attempt(user.username, PASSWORD, addr=addr, path=path)
    assert right.status_code == 429 and not logged_in(right)
    assert len(hashes) == LIMIT
    elsewhere = attempt(user.username, PASSWORD, addr=address(), path=path)  # the user is not locked
    assert elsewhere.status_code == 302 and logged_in(elsewhere)


def test_the_429_page_says_when_to_retry_and_is_the_sites(db, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 600
    addr = address()
    for _ in range(LIMIT):
        response = attempt(name(), "wrong", addr=addr)
    page = response.content.decode()
    assert response.status_code == 429
    assert 590 <= int(response["Retry-After"]) <= 600
    assert "Too many attempts" in page and "Try again in" in page and "10 minutes" in page
    assert re.search(r'<time datetime="[0-9T:+-]+">\d\d:\d\d UTC</time>', page)
    assert "stats/site.css" in page and 'class="site-header"' in page
    assert "<script" not in page and "unsafe-inline" not in response["Content-Security-Policy"]


def test_a_lock_ends_when_the_page_said_and_the_right_password_then_works(db, settings):
    settings.LOGIN_LOCKOUT_SECONDS = 2
    user, addr = user_make(), address()
    for n in range(LIMIT):
        response = attempt(user.username, f"wrong-{n}", addr=addr)
    assert response.status_code == 429
    retry_at = time.monotonic() + int(response["Retry-After"])
    assert int(response["Retry-After"]) <= 2
    refused = attempt(user.username, PASSWORD, addr=addr)
    assert refused.status_code == 429
    time.sleep(max(0.0, retry_at - time.monotonic()) + 0.05)  # what the page told the user to do
    response = attempt(user.username, PASSWORD, addr=addr)
    assert response.status_code == 302 and logged_in(response)


def test_refused_attempts_do_not_push_the_end_of_a_lock(db):
    from stats.accounts import throttle

    addr = address()
    for _ in range(LIMIT):
        attempt(name(), "wrong", addr=addr)
    redis, key = throttle._client(), throttle.address_key(address_pick(peer=addr, forwarded=None))
    before = redis.pttl(key)
    for _ in range(5):
        assert attempt(name(), "wrong", addr=addr).status_code == 429
    assert redis.get(key) == b"10"
    assert 0 < redis.pttl(key) <= before


def test_a_success_clears_the_users_count_not_the_addresss(db):
    user, addr = user_make(), address()
    for _ in range(LIMIT - 1):
        assert attempt(user.username, "wrong", addr=addr).status_code == 200
    assert logged_in(attempt(user.username, PASSWORD, addr=addr))
    # The user's count starts again (from other addresses: this one has 9 failures left over)...
    for _ in range(LIMIT - 1):
        assert attempt(user.username, "wrong", addr=address()).status_code == 200
    # ...but the address's does not: one more failure there, for anyone, locks it.
    assert attempt(name(), "wrong", addr=addr).status_code == 429


def test_behind_a_proxy_the_address_is_the_last_forwarded_entry(db, settings):
    settings.BEHIND_PROXY = True
    real = address()
    for n in range(LIMIT):
        client = Client(REMOTE_ADDR="127.0.0.1")
        spoofed = f"{address()}, {real}"  # a client may write anything before the proxy's own entry
        response = client.post("/accounts/login/", {"username": name(), "password": "x"}, HTTP_X_FORWARDED_FOR=spoofed)
        assert response.status_code == (429 if n == LIMIT - 1 else 200)
    other = Client(REMOTE_ADDR="127.0.0.1").post(
        "/accounts/login/", {"username": name(), "password": "x"}, HTTP_X_FORWARDED_FOR=address()
    )
    assert other.status_code == 200  # the proxy itself (127.0.0.1) is not what was locked


def test_without_redis_logins_fail_open(db):
    import redis as redis_lib

    user = user_make()
    with mock.patch("stats.accounts.throttle._client", side_effect=redis_lib.ConnectionError("down")):
        for _ in range(LIMIT + 2):
            assert attempt(user.username, "wrong", addr=address()).status_code == 200
        assert logged_in(attempt(user.username, PASSWORD, addr=address()))


# --- the password-check gate (a real server) ------------------------------------------------


def test_a_login_waiting_too_long_for_a_password_check_is_answered_503_unchecked(web):
    """LOGIN_CONCURRENCY is 1: a login POST whose body never comes holds the one slot under
    uvicorn, which starts the app before the body (daphne waits for the whole body; it is
    taken before the body is read), so the next login waits LOGIN_WAIT_MS on the event loop
    and is answered 503 with Retry-After; a game's read meanwhile is served at once."""
    host, port = "127.0.0.1", web.port
    stalled = socket.create_connection((host, port))
    stalled.sendall(
        b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    try:
        time.sleep(0.2)  # the stalled POST reaches the gate first
        other = socket.create_connection((host, port))
        other.sendall(b"GET /api/games HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        began = time.monotonic()
        assert http_read(other).startswith(b"HTTP/1.1 200")
        assert time.monotonic() - began < 1.0
        body = b"username=nobody&password=x"
        login = socket.create_connection((host, port))
        login.sendall(
            b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        answer = http_read(login).decode()
    finally:
        stalled.close()
    assert answer.startswith("HTTP/1.1 503")
    assert re.search(r"(?im)^retry-after: 2\r$", answer)
    assert "Busy, try again" in answer and "stats/site.css" in answer


def http_read(sock: socket.socket) -> bytes:
    sock.settimeout(15)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    sock.close()
    return b"".join(chunks)


# --- sign-up -----------------------------------------------------------------------------------


def signup(client: Client, username: str, *, addr: str):
    data = {"username": username, "password1": PASSWORD, "password2": PASSWORD}
    return client.post("/accounts/signup/", data, REMOTE_ADDR=addr)


@pytest.fixture
def signup_on(settings):
    settings.ACCOUNTS_SIGNUP = True
    settings.SIGNUP_RATE = 3
    settings.SIGNUP_WINDOW = 3600


def test_signup_is_limited_per_address(db, signup_on):
    addr = address()
    for _ in range(3):
        assert signup(Client(), name(), addr=addr).status_code == 302
    refused_name = name()
    response = signup(Client(), refused_name, addr=addr)
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert "Too many accounts were made from this address." in response.content.decode()
    assert not User.objects.filter(username=refused_name).exists()
    assert signup(Client(), name(), addr=address()).status_code == 302  # another address is not limited


def test_a_refused_form_does_not_count_against_the_address(db, signup_on):
    addr, taken = address(), user_make().username
    for _ in range(5):
        assert signup(Client(), taken, addr=addr).status_code == 200  # "already exists": nothing made
    assert signup(Client(), name(), addr=addr).status_code == 302


@pytest.mark.parametrize(
    "username",
    ["\u0455taff", "p\u0430ypal", "adm\u0456n"],  # Cyrillic dze, a and i among Latin letters
)
def test_signup_refuses_a_mixed_script_look_alike_name(db, signup_on, username):
    response = signup(Client(), username, addr=address())
    assert response.status_code == 200
    assert "mixes alphabets" in response.content.decode()
    assert not User.objects.filter(username=username).exists()


@pytest.mark.parametrize("username", ["José", "иван", "山田", "user_1"])
def test_signup_takes_names_in_one_script(db, signup_on, username):
    username = f"{username}{secrets.randbelow(10**6)}"
    assert signup(Client(), username, addr=address()).status_code == 302
    assert User.objects.filter(username=username).exists()


def test_signup_normalises_a_fullwidth_name_to_an_existing_one(db, signup_on):
    taken = user_make().username
    fullwidth = "".join(chr(ord(c) + 0xFEE0) for c in taken)  # fullwidth letters: NFKC makes it `taken`
    response = signup(Client(), fullwidth, addr=address())
    assert response.status_code == 200 and "already exists" in response.content.decode()


# --- hashing at a low priority ---------------------------------------------------------------


def test_passwords_are_hashed_in_a_low_priority_thread_and_old_hashes_still_verify(settings, monkeypatch):
    import os
    import threading

    from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password, make_password

    from stats.accounts import hashing

    stock = PBKDF2PasswordHasher().encode(PASSWORD, "saltsaltsalt", iterations=1000)  # Django's own hasher
    settings.PASSWORD_HASHERS = ["stats.accounts.hashing.LowPriorityPBKDF2PasswordHasher"]
    settings.LOGIN_HASH_NICE = 7
    monkeypatch.setattr(hashing, "_executor", None)  # threads of its own, made with this niceness
    seen = []
    real = PBKDF2PasswordHasher.encode

    def spied(self, password, salt, iterations=None):
        seen.append((threading.get_ident(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
        return real(self, password, salt, iterations)

    monkeypatch.setattr(PBKDF2PasswordHasher, "encode", spied)
    try:
        assert check_password(PASSWORD, stock) and not check_password("wrong", stock)
        assert make_password(PASSWORD).startswith("pbkdf2_sha256$")
    finally:
        hashing._pool().shutdown()
    assert len(seen) >= 3  # and harden_runtime's extra rounds for the old hash's fewer iterations
    assert all(ident != threading.get_ident() and nice == 7 for ident, nice in seen)
