"""The whole API against its own OpenAPI schema, generated input, for every role.

Schemathesis (pinned in requirements-dev.txt) draws valid and invalid requests for each
operation of /api/schema and sends them as an anonymous caller, a resident, a volunteer, a
secretary and community staff: no answer may be a 5xx, and every answer must be one the
schema declares, in the declared shape and media type. The draw is derandomised (a fixed seed)
and bounded (SCHEMATHESIS_EXAMPLES per operation, role and mode), so a run costs the same
every time; set SCHEMATHESIS_EXAMPLES higher to search harder locally.
"""

from __future__ import annotations

import json
import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orders import services
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "6"))
ROLES = ["anonymous", "resident", "volunteer", "secretary", "staff"]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": 20261206,  # the same draw on every run
            # Not "coverage": hundreds of boundary cases per operation; "examples" and "fuzzing"
            # with a bounded number of each keep the run within CI's budget.
            "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
            "generation": {"max-examples": EXAMPLES, "mode": "all"},
        }
    )


schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True), config=_config())
app = get_wsgi_application()

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def tokens(resident, volunteer, secretary, staff, world) -> dict[str, dict[str, str]]:
    """An app session token per role (X-Session-Token), and something for each to see: an
    order of the resident's at every stage the others act on."""
    ResidentProfileFactory(user__username="neighbour", grid=world.north, lat=BASE_LAT, lng=BASE_LNG)
    for _ in range(2):
        services.order_submit(resident=resident, data=services.OrderInput(category="errands", description="Bread"))
    order, _ = services.order_submit(resident=resident, data=services.OrderInput(category="repair", description="Tap"))
    services.order_accept(order_id=order.pk, user=secretary)
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    headers = {"anonymous": {}}
    for role, user in {"resident": resident, "volunteer": volunteer, "secretary": secretary, "staff": staff}.items():
        login = Client().post(
            "/_allauth/app/v1/auth/login",
            json.dumps({"username": user.username, "password": "pw-sandan-test"}),
            content_type="application/json",
        )
        assert login.status_code == 200, login.content
        headers[role] = {"X-Session-Token": login.json()["meta"]["session_token"]}
    return headers


@pytest.fixture
def callers(tokens):
    """The WSGI app is called directly, not through Django's test client, which is what keeps
    each request from closing the test's connection (and its transaction) as it starts and
    ends; after the logins, which go through that client and reconnect the signals."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tokens
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
@pytest.mark.parametrize("role", ROLES)
def test_the_api_keeps_its_contract_for_every_role(case, role, callers):
    case.call_and_validate(app=app, headers=callers[role], checks=CHECKS)
