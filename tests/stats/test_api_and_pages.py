"""Who may read which figures, sampling reviews on the timeline, the pages, CSV and PDF."""

from __future__ import annotations

import re
from datetime import date

import pytest

from orders.models import OrderEvent
from stats.models import ReviewItem
from tests.stats.builders import build

pytestmark = pytest.mark.django_db

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def closed_orders(world, resident, volunteer):
    v = volunteer.volunteer
    return [
        build(
            branch=world.north_branch,
            resident=resident,
            status="closed",
            created=f"2026-03-0{d} 09:00",
            review=10,
            dispatch=10,
            claim=10,
            start=10,
            complete=60,
            volunteer=v,
            ratings=(stars,),
            hours="1",
        )
        for d, stars in ((2, 5), (3, 2), (4, 4), (5, 5))
    ]


def stats(api, user, scope, **params):
    return api(user).get("/api/v1/stats", {"scope": scope, **MARCH, **params})


def test_secretary_reads_their_branch(api, secretary, world, closed_orders):
    body = stats(api, secretary, f"branch:{world.north_branch.pk}").json()
    assert body["received"] == 4
    assert body["completion_rate"] == 1.0
    # ratings 5, 2, 4, 5 → 3 of 4.
    assert body["satisfaction_rate"] == 0.75
    assert set(body) >= {
        "received",
        "completion_rate",
        "satisfaction_rate",
        "median_minutes_to_review",
        "median_minutes_to_claim",
        "median_minutes_to_complete",
        "reopen_rate",
        "overdue",
    }


def test_secretary_may_not_read_another_branch_or_the_area(api, secretary, world, closed_orders):
    assert stats(api, secretary, f"branch:{world.south_branch.pk}").status_code == 403
    assert stats(api, secretary, f"area:{world.community.pk}").status_code == 403


def test_staff_read_every_branch_and_area_below_them_but_not_above(api, staff, world, closed_orders):
    assert stats(api, staff, f"area:{world.community.pk}").json()["received"] == 4
    assert stats(api, staff, f"area:{world.north.pk}").json()["received"] == 4
    assert stats(api, staff, f"branch:{world.south_branch.pk}").json()["received"] == 0
    assert stats(api, staff, f"area:{world.street.pk}").status_code == 403


def test_a_volunteer_reads_only_their_own_figures(api, volunteer, volunteer2, world, closed_orders):
    assert stats(api, volunteer, f"volunteer:{volunteer.volunteer.pk}").json()["closed"] == 4
    assert stats(api, volunteer2, f"volunteer:{volunteer.volunteer.pk}").status_code == 403
    assert stats(api, volunteer, f"branch:{world.north_branch.pk}").status_code == 403


def test_the_branch_desk_reads_its_members(api, secretary, other_secretary, volunteer, closed_orders):
    assert stats(api, secretary, f"volunteer:{volunteer.volunteer.pk}").json()["closed"] == 4
    assert stats(api, other_secretary, f"volunteer:{volunteer.volunteer.pk}").status_code == 403


def test_residents_and_strangers_read_nothing(api, resident, outsider, world, closed_orders):
    assert stats(api, resident, f"branch:{world.north_branch.pk}").status_code == 403
    assert stats(api, outsider, "category:errands").status_code == 403
    assert stats(api, None, f"branch:{world.north_branch.pk}").status_code in (401, 403)


def test_category_scope_covers_only_the_callers_desks(api, secretary, other_secretary, closed_orders):
    assert stats(api, secretary, "category:errands").json()["received"] == 4
    assert stats(api, other_secretary, "category:errands").json()["received"] == 0


def test_unknown_scopes_are_404_and_bad_input_is_400(api, staff, world):
    assert stats(api, staff, "branch:999999").status_code == 404
    bad = stats(api, staff, "street:1")
    assert bad.status_code == 400 and "scope" in bad.json()
    assert "from" in stats(api, staff, f"area:{world.community.pk}", **{"from": "March"}).json()
    backwards = stats(api, staff, f"area:{world.community.pk}", **{"from": "2026-03-31", "to": "2026-03-01"})
    assert backwards.status_code == 400 and "to" in backwards.json()
    assert stats(api, staff, f"area:{world.community.pk}", category="nope").status_code == 400


def test_staff_draw_a_sample_and_each_call_lands_on_the_timeline(api, staff, world, closed_orders, resident):
    drawn = api(staff).post(
        "/api/v1/stats/samples",
        {"branch": world.north_branch.pk, "start": "2026-03-01", "end": "2026-04-30", "percent": "50"},
        format="json",
    )
    assert drawn.status_code == 201, drawn.content
    # closed_at of the four orders falls in March; 50 % of 4 = 2.
    assert drawn.json()["population"] == 4
    items = drawn.json()["items"]
    assert len(items) == 2
    assert {i["order"] for i in items} <= {o.pk for o in closed_orders}

    first = items[0]
    done = api(staff).post(f"/api/v1/stats/reviews/{first['id']}", {"result": "not_as_reported", "note": "no"})
    assert done.status_code == 200
    event = OrderEvent.objects.get(order_id=first["order"], action="review")
    assert (event.from_status, event.to_status, event.actor) == ("closed", "closed", staff)
    assert event.data["result"] == "not_as_reported"
    # The resident sees the call-back on their timeline (without the staff's private note).
    timeline = api(resident).get(f"/api/v1/orders/{first['order']}").json()["timeline"]
    assert [e["action"] for e in timeline] == ["review"]
    assert timeline[0]["note"] != "no"

    again = api(staff).post(f"/api/v1/stats/reviews/{first['id']}", {"result": "confirmed"})
    assert again.status_code == 409 and again.json()["code"] == "already_reviewed"
    figures = stats(api, staff, f"branch:{world.north_branch.pk}").json()
    assert figures["reviews"] == {"confirmed": 0, "not_as_reported": 1, "unreachable": 0}


def test_a_sample_rounds_up_to_at_least_one_call(api, staff, world, closed_orders):
    drawn = api(staff).post(
        "/api/v1/stats/samples",
        {"branch": world.north_branch.pk, "start": "2026-03-01", "end": "2026-03-31", "percent": "1"},
        format="json",
    )
    # 1 % of 4 = 0.04 → rounded up to one call.
    assert len(drawn.json()["items"]) == 1


def test_a_branch_may_not_draw_or_record_its_own_review(api, secretary, staff, world, closed_orders):
    body = {"branch": world.north_branch.pk, "start": "2026-03-01", "end": "2026-03-31", "percent": "100"}
    assert api(secretary).post("/api/v1/stats/samples", body, format="json").status_code == 403
    drawn = api(staff).post("/api/v1/stats/samples", body, format="json").json()
    item = drawn["items"][0]["id"]
    assert api(secretary).post(f"/api/v1/stats/reviews/{item}", {"result": "confirmed"}).status_code == 403
    assert api(staff).post(f"/api/v1/stats/reviews/{item}", {"result": "maybe"}).status_code == 400
    assert not ReviewItem.objects.exclude(result="").exists()


def test_dashboard_draws_svg_charts_and_escapes_names(client, secretary, world, closed_orders):
    world.north_branch.name = "<script>alert(1)</script> 北支部"
    world.north_branch.save()
    client.force_login(secretary)
    page = client.get("/stats/", {"scope": f"branch:{world.north_branch.pk}", **MARCH})
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count("<svg") == 2
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 北支部" in html
    assert "75.0%" in html  # satisfaction
    assert "//cdn" not in html
    assert re.findall(r'<script src="([^"]+)"', html) and all(  # the pages' own scripts, nothing from elsewhere
        src.startswith("/static/web/") for src in re.findall(r'<script src="([^"]+)"', html)
    )


def test_dashboard_refuses_a_scope_out_of_reach(client, secretary, world):
    client.force_login(secretary)
    assert client.get("/stats/", {"scope": f"branch:{world.south_branch.pk}"}).status_code == 403


def test_csv_export_has_the_series_and_the_figures(client, staff, world, closed_orders):
    client.force_login(staff)
    response = client.get("/stats/export.csv", {"scope": f"area:{world.community.pk}", **MARCH})
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[0].startswith("bucket,received,accepted,closed")
    # March has 31 days ≤ 62: one row per day with orders (4 days), then the totals.
    assert [line.split(",")[1] for line in lines[1:5]] == ["1", "1", "1", "1"]
    assert "received,4" in lines
    assert "satisfaction_rate,0.7500" in lines


def test_monthly_review_page_and_pdf(client, secretary, other_secretary, volunteer, world, closed_orders):
    volunteer.display_name = "王阿姨"
    volunteer.save()
    client.force_login(secretary)
    page = client.get(f"/stats/monthly/{world.north_branch.pk}/2026-03/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "王阿姨" in html  # the most active volunteer
    assert "2★" in html  # the lowest-rated order
    pdf = client.get(f"/stats/monthly/{world.north_branch.pk}/2026-03.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert b"NotoSansSC" in pdf.content  # the shipped font is embedded (tests/stats/test_monthly_pdf.py renders it)
    client.force_login(other_secretary)
    assert client.get(f"/stats/monthly/{world.north_branch.pk}/2026-03/").status_code == 403
    assert client.get(f"/stats/monthly/{world.north_branch.pk}/2026-03.pdf").status_code == 403


def test_sampling_desk_page_draws_and_records(client, staff, world, closed_orders):
    client.force_login(staff)
    client.post(
        "/stats/samples/", {"branch": world.north_branch.pk, "from": "2026-03-01", "to": "2026-03-31", "percent": "25"}
    )
    item = ReviewItem.objects.get()
    client.post("/stats/samples/", {"item": item.pk, "result": "confirmed", "note": "happy"})
    item.refresh_from_db()
    assert item.result == "confirmed"
    assert "happy" in client.get("/stats/samples/").content.decode()
    assert date(2026, 3, 1) == item.sample.start


def test_area_dashboard_links_each_branch_monthly_review(client, staff, world, closed_orders):
    client.force_login(staff)
    html = client.get("/stats/", {"scope": f"area:{world.community.pk}", **MARCH}).content.decode()
    assert f"/stats/monthly/{world.north_branch.pk}/2026-03/" in html
    assert f"/stats/monthly/{world.south_branch.pk}/2026-03/" in html


def test_dashboard_axis_is_even_ticks_are_whole_and_categories_are_a_select(client, secretary, world, closed_orders):
    client.force_login(secretary)
    html = client.get("/stats/", {"scope": f"branch:{world.north_branch.pk}", **MARCH}).content.decode()
    # Every day of March on the time axis, the 27 days without orders included.
    orders_chart = html[html.index("<svg") : html.index("</svg>")]
    assert len(set(re.findall(r"<title>(03-\d\d) ", orders_chart))) == 31
    assert re.search(r"<title>03-01 [^<:]+: 0</title>", orders_chart)
    # One rating a day at most: the count axis reads 0, 1, 2 (never "1 / 0 / 0").
    satisfaction = html[html.index("<svg", html.index("<svg") + 1) :]
    ticks = re.findall(r'text-anchor="end" font-size="11">(\d+)</text>', satisfaction)
    assert ticks == ["0", "1", "2"]
    select = html[
        html.index('<select name="category">') : html.index("</select>", html.index('<select name="category">'))
    ]
    assert '<option value="errands">' in select and "跑腿代购" in select


def test_figures_are_kept_for_a_while_per_scope_and_period(
    api, secretary, staff, world, closed_orders, resident, settings
):
    """stats/cache.py: a second read within STATS_CACHE_SECONDS computes nothing and may be
    that many seconds old; another period is computed afresh; with 0 every read computes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 30}
    scope = f"branch:{world.north_branch.pk}"
    first = stats(api, secretary, scope).json()
    assert first["received"] == 4
    build(branch=world.north_branch, resident=resident, status="submitted", created="2026-03-20 09:00")
    with CaptureQueriesContext(connection) as ctx:
        again = stats(api, secretary, scope).json()
    assert again == first  # up to 30 s old
    assert not [q for q in ctx.captured_queries if "orders_order" in q["sql"]]
    # Staff of the area read the same branch's figures from the same entry.
    assert stats(api, staff, scope).json() == first
    # Another period is another entry.
    assert (
        api(secretary)
        .get("/api/v1/stats", {"scope": scope, "from": "2026-03-01", "to": "2026-03-30"})
        .json()["received"]
        == 5
    )
    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 0}
    assert stats(api, secretary, scope).json()["received"] == 5


def test_kept_figures_are_only_served_to_who_may_read_them(
    api, secretary, other_secretary, world, closed_orders, settings
):
    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 30}
    scope = f"branch:{world.north_branch.pk}"
    assert stats(api, secretary, scope).status_code == 200
    assert stats(api, other_secretary, scope).status_code == 403


def test_the_dashboard_keeps_its_figures_too(client, secretary, world, closed_orders, resident, settings):
    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 30}
    client.force_login(secretary)
    query = {"scope": f"branch:{world.north_branch.pk}", **MARCH}

    def page() -> str:  # without the form's one-time token
        return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', "", client.get("/stats/", query).content.decode())

    before = page()
    build(branch=world.north_branch, resident=resident, status="submitted", created="2026-03-20 09:00")
    assert page() == before
    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 0}
    assert page() != before
