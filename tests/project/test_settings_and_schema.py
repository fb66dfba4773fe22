from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _check(env_overrides: dict[str, str]) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_debug_off_without_secret_key_fails_loudly():
    result = _check({"DEBUG": "0", "ALLOWED_HOSTS": "sandan.example"})
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_without_allowed_hosts_fails_loudly():
    result = _check({"DEBUG": "0", "SECRET_KEY": "x" * 50})
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_nonsense_boolean_is_refused():
    result = _check({"DEBUG": "maybe"})
    assert result.returncode != 0
    assert "DEBUG must be a boolean" in result.stderr


def test_persistent_connections_beside_the_pool_are_refused():
    # The pool keeps PostgreSQL connections itself; Django refuses both at once, later and less clearly.
    result = _check({"DATABASE_URL": "postgres://sandan@127.0.0.1:5432/sandan", "DB_CONN_MAX_AGE": "60"})
    assert result.returncode != 0
    assert "DB_CONN_MAX_AGE needs DB_POOL_MAX_SIZE=0" in result.stderr


def test_in_memory_layer_with_debug_off_is_a_system_check_warning():
    env = {"DEBUG": "0", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "sandan.example", "REDIS_URL": ""}
    result = _check(env)
    assert "sandan.W001" in result.stderr + result.stdout


@pytest.mark.django_db
def test_openapi_schema_documents_the_contract(client):
    response = client.get("/api/schema", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = response.content.decode()
    assert "Sandan API" in text
    for path in ("/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/offers", "/api/v1/me", "/api/v1/categories"):
        assert path in text


@pytest.mark.django_db
def test_interactive_docs_load_no_asset_from_elsewhere(client):
    page = client.get("/api/docs").content.decode()
    assert "drf_spectacular_sidecar" in page
    assert "cdn." not in page and "unpkg" not in page and "jsdelivr" not in page
