"""The time bank through the API and the pages: balance, history, spending, the desk's
adjustments, staff's items, the leaderboard, and what each role may not do."""

from __future__ import annotations

from decimal import Decimal

import pytest

from timebank.models import Entry, RedemptionItem

pytestmark = pytest.mark.django_db


@pytest.fixture
def earned(submit, advance, volunteer):
    """The volunteer closed one order: 1 hour credited."""
    return advance(submit(), "closed")


def test_me_timebank_shows_balance_and_entries(api, volunteer, earned):
    body = api(volunteer).get("/api/v1/me/timebank").json()
    assert body["balance"] == "1.00"
    assert body["count"] == 1
    [entry] = body["entries"]
    assert (entry["kind"], entry["amount"], entry["order"]) == ("credit", "1.00", earned.pk)


def test_someone_without_hours_has_an_empty_account(api, resident):
    assert api(resident).get("/api/v1/me/timebank").json() == {
        "balance": "0.00",
        "earned": "0.00",
        "count": 0,
        "entries": [],
    }


def test_redeem_through_the_api(api, volunteer, earned):
    item = RedemptionItem.objects.create(name="Noodles", cost=Decimal("0.6"))
    ok = api(volunteer).post("/api/v1/timebank/redeem", {"item": item.pk}, format="json")
    assert ok.status_code == 201
    assert ok.json()["entry"]["amount"] == "-0.60"
    refused = api(volunteer).post("/api/v1/timebank/redeem", {"item": item.pk}, format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "insufficient_balance"
    assert api(volunteer).post("/api/v1/timebank/redeem", {"item": "x"}, format="json").status_code == 400
    assert api(volunteer).post("/api/v1/timebank/redeem", {"item": 99999}, format="json").status_code == 404


def test_secretary_adjusts_through_the_api(api, secretary, volunteer, earned):
    body = {"user": volunteer.pk, "order": earned.pk, "amount": "-0.25", "reason": "Reported too much"}
    made = api(secretary).post("/api/v1/timebank/adjust", body, format="json")
    assert made.status_code == 201
    assert made.json()["balance_after"] == "0.75"
    missing = api(secretary).post("/api/v1/timebank/adjust", {**body, "reason": ""}, format="json")
    assert missing.status_code == 400 and "reason" in missing.json()


def test_volunteer_and_strangers_cannot_adjust(api, volunteer, outsider, earned):
    body = {"user": volunteer.pk, "order": earned.pk, "amount": "5", "reason": "Generous"}
    assert api(volunteer).post("/api/v1/timebank/adjust", body, format="json").status_code == 403
    assert api(outsider).post("/api/v1/timebank/adjust", body, format="json").status_code == 404
    assert Entry.objects.count() == 1


def test_only_staff_configure_items(api, staff, volunteer):
    body = {"name": "Park ticket", "cost": "2", "stock": 10}
    assert api(volunteer).post("/api/v1/timebank/items", body, format="json").status_code == 403
    made = api(staff).post("/api/v1/timebank/items", body, format="json")
    assert made.status_code == 201
    assert [i["name"] for i in api(volunteer).get("/api/v1/timebank/items").json()] == ["Park ticket"]
    assert api(staff).post("/api/v1/timebank/items", {"name": "x", "cost": "0"}, format="json").status_code == 400


def test_leaderboard_ranks_by_hours_earned_not_left(api, volunteer, volunteer2, earned, world):
    # volunteer earned 1 h then spent 0.5 h; volunteer2 earned nothing: not on the board.
    item = RedemptionItem.objects.create(name="Tea", cost=Decimal("0.5"))
    api(volunteer).post("/api/v1/timebank/redeem", {"item": item.pk}, format="json")
    board = api(volunteer2).get("/api/v1/timebank/leaderboard").json()
    assert board == [{"rank": 1, "name": "volunteer", "earned": "1.00"}]
    by_branch = api(volunteer2).get("/api/v1/timebank/leaderboard", {"branch": world.south_branch.pk}).json()
    assert by_branch == []


def test_timebank_page_shows_history_and_redeems(client, volunteer, earned):
    item = RedemptionItem.objects.create(name="理髮券", cost=Decimal("1"))
    client.force_login(volunteer)
    page = client.get("/timebank/").content.decode()
    assert "理髮券" in page and f"#{earned.pk}" in page
    client.post("/timebank/redeem", {"item": item.pk})
    assert Entry.objects.filter(kind="redemption").count() == 1
    assert "0.00" in client.get("/timebank/").content.decode()
