"""Browser tests: a real daphne (HTTP + WebSocket) on a free port, serving the pytest test
database, driven by Debian's Chromium through Playwright.

pytest-django's live_server is WSGI-only, so daphne runs as a subprocess pointed at the same
database: the test database on PostgreSQL, or on SQLite a file (an in-memory test database
could not be shared with another process). Tests use `django_db(transaction=True)` so that
what they create is committed and visible to daphne.
"""

from __future__ import annotations

import base64
import importlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

import pytest
from django.conf import settings

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # A fake microphone, so the page's voice recorder records a real (synthetic) signal.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 780}  # the narrowest screen the pages are made for
DESKTOP = {"width": 1280, "height": 900}


def _vapid_keys() -> dict[str, str]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    def b64url(raw: bytes) -> str:
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    key = ec.generate_private_key(ec.SECP256R1())
    return {
        "VAPID_PUBLIC_KEY": b64url(key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)),
        "VAPID_PRIVATE_KEY": b64url(key.private_numbers().private_value.to_bytes(32, "big")),
        "VAPID_SUBJECT": "mailto:e2e@sandan.test",
    }


VAPID_KEYS = _vapid_keys()


def pytest_configure(config: pytest.Config) -> None:
    """On SQLite the test database must be a file that daphne can open too."""
    from django.db import connections

    db = connections.settings["default"]
    if db["ENGINE"].endswith("sqlite3") and not (db.get("TEST") or {}).get("NAME"):
        name = Path(tempfile.gettempdir()) / f"sandan-e2e-{os.getpid()}.sqlite3"
        db.setdefault("TEST", {})["NAME"] = str(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_env() -> dict[str, str]:
    from django.db import connection

    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return {"SQLITE_PATH": str(db["NAME"]), "DATABASE_URL": ""}
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return {"DATABASE_URL": f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"}


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path


@pytest.fixture(scope="module")
def server(request, django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Server]:
    """One daphne per test module, stopped before any other tests run."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    port = _free_port()
    media = tmp_path_factory.mktemp("e2e-media")
    log = ROOT / "artifacts" / f"daphne-{request.module.__name__.rsplit('.', 1)[-1]}.log"  # kept (git-ignored)
    log.parent.mkdir(exist_ok=True)
    env = {
        **os.environ,
        **_database_env(),
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "MEDIA_ROOT": str(media),
        "DEBUG": "1",
        "SANDAN_EMBEDDED_WORKER": "0",
        "ORDER_SUBMIT_RATE": "1000/hour",
        "PYTHONUNBUFFERED": "1",
        # Redis pub/sub channels are shared by every database number: a prefix of its own keeps
        # other test runs on the same Redis from talking to these sockets.
        "CHANNEL_PREFIX": f"sandan-e2e-{os.getpid()}",
        # Web Push keys, so that the pages subscribe as they would in production (no worker
        # runs in this server: nothing is sent to a push service).
        **VAPID_KEYS,
        # A module's own settings for its server (e.g. the maps' tile datum).
        **getattr(request.module, "SERVER_ENV", {}),
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # daphne must never run with it
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "project.serve", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2) as response:  # noqa: S310 - our own server
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"daphne did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    yield Server(url=url, process=process, log=log)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def _font_env() -> dict[str, str]:
    """The pages' Chinese text drawn with the font the project ships (stats/fonts, the monthly
    PDF's), so that screenshots read the same on a machine without CJK fonts installed."""
    conf = Path(tempfile.gettempdir()) / f"sandan-e2e-fonts-{os.getpid()}.conf"
    conf.write_text(
        '<?xml version="1.0"?><!DOCTYPE fontconfig SYSTEM "fonts.dtd"><fontconfig>'
        '<include ignore_missing="yes">/etc/fonts/fonts.conf</include>'
        f"<dir>{ROOT / 'stats' / 'fonts'}</dir></fontconfig>"
    )
    return {"FONTCONFIG_FILE": str(conf)}


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module. Playwright's sync API runs an event loop in this thread
    while it is open, so Django would take the ORM calls the tests make between browser steps
    for calls from async code; they are ordinary blocking calls, allowed here and only here.
    Module scope closes the loop (and the allowance) before any other tests run."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Django keeps connections per async context, and the running loop gives this thread a
    # new one: hand it the snapshot that serialized_rollback restores between tests.
    snapshots = {alias: getattr(connections[alias], "_test_serialized_contents", None) for alias in connections}
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            for alias, snapshot in snapshots.items():
                if snapshot is not None:
                    connections[alias]._test_serialized_contents = snapshot
            chromium = p.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True, env={**os.environ, **_font_env()}
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(autouse=True)
def _pushes_from_the_test_thread(monkeypatch):
    """The orders a test makes through the services (between browser steps) push their events
    at once, as a web request's would. Playwright's loop runs in this thread, where
    `async_to_sync` refuses to run, so each push would wait for the relay instead and reach
    the pages seconds late; a short-lived thread without a loop sends it."""
    from asgiref.sync import async_to_sync

    from notifications import events

    def off_the_loop(function):
        def call(*args, **kwargs):
            with ThreadPoolExecutor(max_workers=1) as pool:
                return pool.submit(async_to_sync(function), *args, **kwargs).result()

        return call

    monkeypatch.setattr(events, "async_to_sync", off_the_loop)


@pytest.fixture(autouse=True)
def _expect_timeout():
    from playwright.sync_api import expect

    # Live updates arrive by WebSocket at once, or by the pages' fallback poll within seconds.
    expect.set_options(timeout=15_000)


@pytest.fixture
def categories(transactional_db):
    """The seeded categories: a transactional test's flush removes the migration's rows."""
    from django.apps import apps

    from orders.models import Category

    if not Category.objects.exists():
        importlib.import_module("orders.migrations.0003_seed_categories").seed(apps, None)


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


def session_cookie(user, base_url: str) -> dict:
    """A signed-in session for `user`, stored in the shared database (the pages' own login
    form is exercised by the resident in the scenario)."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return {"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": base_url}


@pytest.fixture
def open_as(browser, server):
    """A browser context (one person's browser) optionally signed in as `user`."""
    contexts = []

    def make(
        user=None,
        *,
        phone: bool = False,
        viewport: dict | None = None,
        geolocation: dict | None = None,
        service_worker: bool = False,
        permissions: list[str] | None = None,
        init_script: str | None = None,
        locale: str = "zh-CN",
    ):
        options = {
            "base_url": server.url,
            "locale": locale,
            "viewport": viewport or (PHONE if phone else DESKTOP),
            "service_workers": "allow" if service_worker else "block",
        }
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        granted = list(permissions or [])
        if geolocation:
            options["geolocation"] = geolocation
            granted.append("geolocation")
        if granted:
            options["permissions"] = granted
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)
        if init_script:
            context.add_init_script(init_script)
        if user is not None:
            context.add_cookies([session_cookie(user, server.url)])
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    _until_the_server_is_quiet()


def _until_the_server_is_quiet(timeout: float = 5.0) -> None:
    """Wait (at most `timeout`) until no other connection to the test database runs a statement.

    A page's last request (a poll, a live refresh) can still be running on the server when its
    browser closes; the test's flush after it (one TRUNCATE of every table) then took its locks
    while that read held some of the same tables, and PostgreSQL ended the flush as a deadlock
    (CI, 2026-12-07). The browser is closed, so nothing new arrives: two quiet looks in a row
    mean the server has finished."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return  # SQLite: the server's reads and the flush wait for each other's file lock
    deadline = time.monotonic() + timeout
    quiet = 0
    with connection.cursor() as cursor:
        while quiet < 2 and time.monotonic() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'"
            )
            quiet = quiet + 1 if cursor.fetchone()[0] == 0 else 0
            time.sleep(0.05)


def open_desk(open_as, user):
    """A signed-in desk browser with its CSRF cookie, to act through the running server."""
    page = open_as(user)
    page.goto("/offline")
    return page


def post_form(page, path: str, data: dict) -> dict:
    """POST a page's form through the browser's session (JSON answer), as its button would."""
    token = next(c["value"] for c in page.context.cookies() if c["name"] == settings.CSRF_COOKIE_NAME)
    response = page.request.post(path, form=data, headers={"X-CSRFToken": token, "Accept": "application/json"})
    body = response.json()
    assert body.get("ok"), body
    return body
