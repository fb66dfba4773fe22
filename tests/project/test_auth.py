from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_phone_app_logs_in_with_allauth_headless_and_uses_the_session_token(resident):
    client = Client()
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"username": "resident", "password": "pw-sandan-test"},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    token = login.json()["meta"]["session_token"]
    app = Client()  # no cookies: only the header authenticates
    me = app.get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200
    assert me.json()["username"] == "resident"
    assert me.json()["roles"] == ["resident"]
    assert app.get("/api/v1/me").status_code in (401, 403)
    assert app.get("/api/v1/me", HTTP_X_SESSION_TOKEN="not-a-token").status_code in (401, 403)


def test_wrong_password_is_refused(resident):
    login = Client().post(
        "/_allauth/app/v1/auth/login",
        {"username": "resident", "password": "wrong"},
        content_type="application/json",
    )
    assert login.status_code == 400


def test_browser_uses_the_session_cookie(resident):
    client = Client()
    assert client.login(username="resident", password="pw-sandan-test")
    assert client.get("/api/v1/me").json()["username"] == "resident"


def test_roles_come_from_relations(secretary, staff, volunteer):
    client = Client()
    client.force_login(secretary)
    assert client.get("/api/v1/me").json()["roles"] == ["resident", "secretary"]
    client.force_login(staff)
    me = client.get("/api/v1/me").json()
    assert me["roles"] == ["resident", "staff"] and me["areas"][0]["level"] == "community"
    client.force_login(volunteer)
    me = client.get("/api/v1/me").json()
    assert me["roles"] == ["resident", "volunteer"]
    assert me["volunteer"]["on_duty"] is True
    client.force_login(UserFactory(username="plain"))
    assert client.get("/api/v1/me").json()["volunteer"] is None


def test_volunteer_goes_off_duty_and_their_live_location_is_forgotten(api, volunteer):
    client = api(volunteer)
    on = client.patch("/api/v1/me/volunteer", {"on_duty": True, "lat": 31.231, "lng": 121.471}, format="json")
    assert on.status_code == 200 and on.data["lat"] == 31.231
    off = client.patch("/api/v1/me/volunteer", {"on_duty": False}, format="json")
    assert off.data["on_duty"] is False
    volunteer.volunteer.refresh_from_db()
    assert volunteer.volunteer.live_lat is None and volunteer.volunteer.live_at is None
    bad = client.patch("/api/v1/me/volunteer", {"lat": 999, "skills": ["no-such-skill"]}, format="json")
    assert bad.status_code == 400 and "lat" in bad.data


def test_a_non_volunteer_cannot_patch_a_volunteer_profile(api, resident):
    response = api(resident).patch("/api/v1/me/volunteer", {"on_duty": True}, format="json")
    assert response.status_code == 403


def _token(client: Client) -> str:
    login = client.post(
        "/_allauth/app/v1/auth/login",
        {"username": "resident", "password": "pw-sandan-test"},
        content_type="application/json",
    )
    assert login.status_code == 200, login.content
    return login.json()["meta"]["session_token"]


def test_a_session_token_is_looked_up_with_one_read_of_the_session(resident, monkeypatch):
    from django.contrib.sessions.backends.cached_db import SessionStore

    token = _token(Client())
    reads: list[str] = []
    real_load, real_exists = SessionStore.load, SessionStore.exists
    monkeypatch.setattr(SessionStore, "load", lambda self: reads.append("load") or real_load(self))
    monkeypatch.setattr(SessionStore, "exists", lambda self, key: reads.append("exists") or real_exists(self, key))
    me = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200 and me.json()["username"] == "resident"
    assert reads == ["load"]


def test_an_expired_session_token_is_refused(resident):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.core.cache import cache
    from django.utils import timezone

    token = _token(Client())
    Session.objects.filter(session_key=token).update(expire_date=timezone.now() - timedelta(minutes=1))
    cache.delete(f"django.contrib.sessions.cached_db{token}")  # as when the cached copy ran out
    assert Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code in (401, 403)


@pytest.mark.parametrize("token", ["not a token", "x" * 65, "ключ", "a;b", ""])
def test_a_token_that_is_no_session_key_is_refused_without_a_read(token, resident, monkeypatch):
    from django.contrib.sessions.backends.cached_db import SessionStore

    reads: list[str] = []
    monkeypatch.setattr(SessionStore, "load", lambda self: reads.append("load") or {})
    response = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert response.status_code in (401, 403)
    assert reads == []


@pytest.mark.parametrize("who", ["resident", "volunteer", "volunteer2", "secretary", "other_secretary", "staff"])
def test_me_names_the_branches_skills_and_seats_the_relations_hold(who, api, request, world):
    """`GET /me` as the plain relations say it, read the long way (each relation on its own)."""
    from volunteers.models import Area, Branch, Skill, Volunteer
    from volunteers.selectors import desk_branch_ids

    user = request.getfixturevalue(who)
    volunteer = Volunteer.objects.filter(user=user).first()
    if who == "volunteer":
        volunteer.branches.add(world.south_branch)  # a member of two branches
        for code in ("wiring", "ladder"):  # shown in code order, whatever the order added
            volunteer.skills.add(Skill.objects.get_or_create(code=code, defaults={"name": code})[0])
    me = api(user).get("/api/v1/me").json()
    member = set(volunteer.branches.values_list("pk", flat=True)) if volunteer else set()
    wanted = Branch.objects.filter(pk__in=desk_branch_ids(user) | member).order_by("name")
    assert [b["id"] for b in me["branches"]] == [b.pk for b in wanted]
    assert ("secretary" in me["roles"]) == Branch.objects.filter(secretaries=user).exists()
    assert [a["id"] for a in me["areas"]] == [a.pk for a in Area.objects.filter(staff=user)]
    if volunteer is None:
        assert me["volunteer"] is None and "volunteer" not in me["roles"]
    else:
        assert me["volunteer"]["skills"] == list(volunteer.skills.values_list("code", flat=True))
        assert sorted(me["volunteer"]["branches"]) == sorted(member)


def test_the_signed_in_user_is_read_with_the_kept_statement(resident, monkeypatch):
    # ModelBackend.get_user's `User.objects.get(pk=…)`, on every request: compiled once.
    from accounts import models

    token = _token(Client())
    reads: list[int] = []
    real = models._user_by_pk.first
    monkeypatch.setattr(models._user_by_pk, "first", lambda pk: reads.append(pk) or real(pk))
    me = Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token)
    assert me.status_code == 200 and me.json()["username"] == "resident"
    assert reads == [resident.pk]


def test_a_session_whose_user_is_gone_or_inactive_is_signed_out(resident):
    from accounts.models import User

    token = _token(Client())
    User.objects.filter(pk=resident.pk).update(is_active=False)
    assert Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code in (401, 403)
    User.objects.filter(pk=resident.pk).update(is_active=True)
    assert Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code == 200
    User.objects.filter(pk=resident.pk).delete()
    assert Client().get("/api/v1/me", HTTP_X_SESSION_TOKEN=token).status_code in (401, 403)


def test_a_relations_get_by_pk_still_keeps_to_the_relation(secretary, resident):
    from accounts.models import User

    branch = secretary.secretary_of.first()
    assert branch.secretaries.get(pk=secretary.pk) == secretary
    with pytest.raises(User.DoesNotExist):
        branch.secretaries.get(pk=resident.pk)  # a user, but no secretary of this branch
    assert User.objects.get(pk=resident.pk) == resident
    with pytest.raises(User.DoesNotExist):
        User.objects.get(pk=resident.pk + 10_000)
