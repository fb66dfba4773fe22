"""Every list and every page reads what it shows in a fixed number of statements: the count
for 5 rows is the count for 50 (an N+1 would add one or more statements per row).

The rows are made through the real services, each with its own volunteer, category and
state where the list shows them, so a relation read row by row cannot hide behind a cache
of one shared object. django-zeal (on for every request of the suite, project/settings.py)
names the culprit when one does slip in; these tests pin the counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orders import services
from orders.models import Order
from tests.factories import BASE_LAT, BASE_LNG, ResidentProfileFactory, VolunteerFactory

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CATEGORIES = ["errands", "repair", "digital", "cleaning", "tutoring"]
_serial = itertools.count()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def statements(request: Callable[[], object]) -> tuple[int, list[str]]:
    request()  # warm: per-process caches (scopes, skills, content types) are not per row
    with CaptureQueriesContext(connection) as ctx:
        response = request()
    assert getattr(response, "status_code", 200) == 200, getattr(response, "content", b"")[:500]
    return len(ctx.captured_queries), [q["sql"] for q in ctx.captured_queries]


def same_count_for_5_and_50(add_rows: Callable[[int], None], request: Callable[[], object]) -> None:
    add_rows(5)
    five, five_sql = statements(request)
    add_rows(45)
    fifty, fifty_sql = statements(request)
    assert fifty == five, "\n".join(["5 rows:", *five_sql, "", "50 rows:", *fifty_sql])


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def rows(world, resident, secretary, volunteer):
    """`rows(n)` adds n orders of `resident` in the north branch, in turn submitted, accepted,
    offered to a volunteer of their own, held by one, closed and rated; each volunteer also
    offers a second order to `volunteer`, so their offers and tasks grow too."""

    neighbour = ResidentProfileFactory(
        user__username="row-neighbour", grid=resident.resident.grid, lat=BASE_LAT, lng=BASE_LNG
    ).user

    def add(n: int) -> None:
        for _ in range(n):
            i = next(_serial)
            data = services.OrderInput(category=CATEGORIES[i % len(CATEGORIES)], description=f"Row {i}")
            order, _ = services.order_submit(resident=resident, data=data)
            _offer_to(volunteer, secretary, neighbour, i)
            state = i % 5
            if state == 0:
                continue
            services.order_accept(order_id=order.pk, user=secretary)
            if state == 1:
                continue
            helper = VolunteerFactory(
                user__username=f"row-volunteer-{i}",
                user__display_name=f"Helper {i}",
                branches=[world.north_branch],
                base_lat=BASE_LAT + 0.001 * (i % 7),
            ).user
            services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=helper.volunteer.pk)
            if state == 2:
                continue
            services.order_claim(order_id=order.pk, user=helper)
            if state == 3:
                continue
            services.order_start(order_id=order.pk, user=helper)
            services.order_complete(order_id=order.pk, user=helper, note="Done", hours=Decimal("1.5"))
            services.order_confirm(order_id=order.pk, user=resident, rating=1 + i % 5, comment="")

    return add


def _offer_to(volunteer, secretary, neighbour, i: int) -> None:
    data = services.OrderInput(category=CATEGORIES[(i + 1) % len(CATEGORIES)], description=f"Offer {i}")
    order, _ = services.order_submit(resident=neighbour, data=data)
    services.order_accept(order_id=order.pk, user=secretary)
    services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)


# --- the API -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who,query", [("resident", ""), ("secretary", "?role=desk"), ("volunteer", "?role=volunteer")])
def test_order_list_reads_a_page_in_fixed_statements(rows, api, request, who, query):
    client = api(request.getfixturevalue(who))
    same_count_for_5_and_50(rows, lambda: client.get(f"/api/v1/orders{query}"))


def test_offer_list_reads_in_fixed_statements(rows, api, volunteer):
    client = api(volunteer)
    same_count_for_5_and_50(rows, lambda: client.get("/api/v1/offers"))


def test_notification_list_reads_in_fixed_statements(rows, api, resident):
    client = api(resident)
    same_count_for_5_and_50(rows, lambda: client.get("/api/v1/notifications"))


def test_the_desk_map_reads_in_fixed_statements(rows, api, staff):
    """Orders, grids and volunteers at their last shared position (each helper shares one)."""
    from volunteers.models import Volunteer
    from volunteers.services import volunteer_record_location

    def add(n: int) -> None:
        rows(n)
        for user_id in Volunteer.objects.filter(on_duty=True, live_at__isnull=True).values_list("user_id", flat=True):
            volunteer_record_location(user_id=user_id, lat=BASE_LAT, lng=BASE_LNG)

    client = api(staff)
    same_count_for_5_and_50(add, lambda: client.get("/api/v1/desk/map"))


def test_order_detail_reads_its_timeline_in_fixed_statements(world, resident, secretary, volunteer, api):
    order, _ = services.order_submit(
        resident=resident, data=services.OrderInput(category="errands", description="Back and forth")
    )
    services.order_accept(order_id=order.pk, user=secretary)

    def add_steps(n: int) -> None:
        # Each round trip adds two timeline rows (dispatch, recall), by the secretary.
        for _ in range(max(1, n // 2)):
            services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
            services.order_recall(order_id=order.pk, user=secretary, reason="Again")

    client = api(resident)
    same_count_for_5_and_50(add_steps, lambda: client.get(f"/api/v1/orders/{order.pk}"))


def test_timebank_lists_read_in_fixed_statements(rows, api, volunteer):
    client = api(volunteer)
    for path in ("/api/v1/me/timebank", "/api/v1/timebank/leaderboard", "/api/v1/timebank/items"):
        rows(5)
        five, _ = statements(lambda path=path: client.get(path))
        rows(45)
        fifty, sql = statements(lambda path=path: client.get(path))
        assert fifty == five, (path, sql)


def test_open311_request_list_reads_in_fixed_statements(rows):
    client = Client()
    same_count_for_5_and_50(rows, lambda: client.get("/open311/v2/requests.json"))


def test_sample_list_reads_in_fixed_statements(rows, api, staff, world):
    from datetime import date

    from stats.services import review_sample_draw

    def add(n: int) -> None:
        rows(n)
        review_sample_draw(
            user=staff, start=date(2000, 1, 1), end=date(2100, 1, 1), percent=Decimal(100), area_id=world.community.pk
        )

    client = api(staff)
    same_count_for_5_and_50(add, lambda: client.get("/api/v1/stats/samples"))


# --- the pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "who,path",
    [
        ("resident", "/orders/"),
        ("volunteer", "/volunteer/"),
        ("volunteer", "/volunteer/hours"),
        ("secretary", "/desk/"),
        ("staff", "/desk/"),
        ("staff", "/stats/"),
        ("secretary", "/stats/"),
        ("staff", "/stats/samples/"),
        ("volunteer", "/timebank/"),
        ("volunteer", "/timebank/leaderboard/"),
    ],
)
def test_page_reads_in_fixed_statements(rows, request, who, path, settings):
    # The statistics are kept a while (stats/cache.py): count what computing them costs.
    settings.SANDAN = {**settings.SANDAN, "STATS_CACHE_SECONDS": 0}
    client = signed_in(request.getfixturevalue(who))
    same_count_for_5_and_50(rows, lambda: client.get(path))


def test_order_page_reads_its_timeline_in_fixed_statements(world, resident, secretary, volunteer):
    order, _ = services.order_submit(
        resident=resident, data=services.OrderInput(category="errands", description="Back and forth")
    )
    services.order_accept(order_id=order.pk, user=secretary)

    def add_steps(n: int) -> None:
        for _ in range(max(1, n // 2)):
            services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
            services.order_recall(order_id=order.pk, user=secretary, reason="Again")

    client = signed_in(secretary)
    same_count_for_5_and_50(add_steps, lambda: client.get(f"/orders/{order.pk}/"))
    assert Order.objects.get(pk=order.pk).events.count() > 40


def test_the_desk_reads_who_sits_where_once_per_page(rows, staff):
    """The desk's scope, its header and each of its panels ask which branches the caller sits
    at: read once per request (project/requestmemo.py), not once per panel."""
    rows(5)
    client = signed_in(staff)
    client.get("/desk/")
    with CaptureQueriesContext(connection) as ctx:
        assert client.get("/desk/").status_code == 200
    seats = [q["sql"] for q in ctx.captured_queries if "volunteers_area_staff" in q["sql"]]
    assert len(seats) == 2  # the staff seats: once for the desks, once for the page's header


def test_outside_a_request_seats_are_read_afresh(world, secretary):
    """The memo lives for one request only: a service called twice sees a seat given between."""
    from orders.selectors import desk_branch_ids

    assert desk_branch_ids(secretary) == {world.north_branch.pk}
    world.south_branch.secretaries.add(secretary)
    assert desk_branch_ids(secretary) == {world.north_branch.pk, world.south_branch.pk}
