"""A list reads only its caller's orders, whatever the size of the table: at a city's size (a
million orders a year) a list that reads the whole table is a page that takes seconds.
PostgreSQL's own plan is the witness: with many other people's orders and fresh statistics,
no scope of the list scans the orders table."""

from __future__ import annotations

import re

import psycopg.sql
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import services
from orders.models import Order
from orders.selectors import order_list

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OTHERS = 30_000


def _submit(resident, text: str) -> Order:
    return services.order_submit(resident=resident, data=services.OrderInput(category="errands", description=text))[0]


@pytest.fixture
def city(resident, other_resident, secretary, volunteer):
    """The resident's, a followed, a held and an offered order among many of other people's."""
    own = _submit(resident, "My own request")
    neighbours = _submit(other_resident, "A neighbour's request I follow")
    services.order_follow(order_id=neighbours.pk, user=resident)
    held = _submit(resident, "Held by the volunteer")
    offered = _submit(resident, "Offered to the volunteer")
    for order in (held, offered):
        services.order_accept(order_id=order.pk, user=secretary)
        services.order_dispatch(order_id=order.pk, user=secretary, mode="direct", volunteer=volunteer.volunteer.pk)
    services.order_claim(order_id=held.pk, user=volunteer)
    template = _submit(other_resident, "Somebody else's request")
    columns = [f.column for f in Order._meta.concrete_fields if not f.primary_key]
    names = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        # Copies of another resident's request, in the other branch: a city around the callers.
        cursor.execute(
            f"INSERT INTO orders_order ({names}) SELECT {names} FROM orders_order, generate_series(1, %s) "  # noqa: S608 (column names from the model)
            "WHERE orders_order.id = %s",
            [OTHERS, template.pk],
        )
        cursor.execute("ANALYZE orders_order")
    return {"own": own, "followed": neighbours, "held": held, "offered": offered}


def _plan(qs) -> str:
    return qs.explain()


@pytest.mark.parametrize(
    ("who", "role", "expected"),
    [
        ("resident", None, {"own", "followed", "held", "offered"}),
        ("resident", "resident", {"own", "followed", "held", "offered"}),
        ("volunteer", None, {"held", "offered"}),
        ("volunteer", "volunteer", {"held", "offered"}),
        ("secretary", "desk", {"own", "held", "offered"}),
    ],
)
def test_each_list_reads_its_orders_by_an_index(city, request, who, role, expected):
    user = request.getfixturevalue(who)
    qs = order_list(user, role=role)
    seen = {name for name, order in city.items() if qs.filter(pk=order.pk).exists()}
    assert seen == expected
    assert qs.count() == len(expected)  # none of the city's others
    page = qs[:50]
    assert "Seq Scan on orders_order" not in _plan(page), _plan(page)
    assert "Seq Scan on orders_order" not in _plan(qs.order_by()), "the page's count"


def test_the_page_count_reads_the_scope_alone(city, api, secretary):
    """The count under a page needs no joins: a desk's whole history is counted from the
    branch's index, not through the seven tables the page's columns come from."""
    with CaptureQueriesContext(connection) as statements:
        response = api(secretary).get("/api/v1/orders?role=desk&limit=2")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    counts = [q["sql"] for q in statements.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1 and "JOIN" not in counts[0], counts


def test_a_volunteer_with_a_long_past_is_not_looked_for_along_the_city_by_date(city, volunteer):
    """A volunteer's 1,000 orders of a year ago among 30,000 newer ones: the page is found by
    the volunteer's orders and sorted, not by walking every newer order backwards by date in
    the hope of meeting theirs (what PostgreSQL chose for the plain date order: 390 ms on a
    copy of the demo city with 977,000 orders)."""
    held = city["held"]
    columns = [f.column for f in Order._meta.concrete_fields if not f.primary_key and f.column != "created_at"]
    names = ", ".join(f'"{c}"' for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO orders_order ({names}, "created_at") '  # noqa: S608 (column names from the model)
            f"SELECT {names}, now() - interval '400 days' FROM orders_order, generate_series(1, 1000) "
            "WHERE orders_order.id = %s",
            [held.pk],
        )
        cursor.execute("ANALYZE orders_order")
    qs = order_list(volunteer, role="volunteer")
    assert qs.count() == 1002  # held, offered, and the thousand of last year
    page = list(qs[:50])
    assert [page[0].pk, page[1].pk] == sorted([city["held"].pk, city["offered"].pk], reverse=True)
    plan = _plan(qs[:50])
    assert "created_at_" not in plan, plan  # not along the date's index


def test_a_resident_with_many_orders_reads_the_newest_page_from_their_index(city, other_resident):
    """30,000 orders of one resident: the first page comes in date order from an index (at
    most the ties of one date sorted by id), without sorting them all."""
    qs = order_list(other_resident, role="resident")
    page = list(qs[:50])
    assert len(page) == 50 and page == sorted(page, key=lambda o: (o.created_at, o.pk), reverse=True)
    plan = _plan(qs[:50])
    full_sorts = re.findall(r"^\s*(?:->\s+)?Sort\s+\(cost=", plan, flags=re.MULTILINE)
    assert not full_sorts and "Seq Scan on orders_order" not in plan, plan


def _generic_plan(sql: str, params: list) -> str:
    """The plan PostgreSQL may keep for a statement run many times with different values (a
    generic plan: made without the values), as psycopg prepares the list's kept reads."""
    numbered = iter(range(1, len(params) + 1))
    text = re.sub("%s", lambda _: f"${next(numbered)}", sql)
    raw = connection.connection
    literals = ", ".join(psycopg.sql.Literal(p).as_string(raw) for p in params)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE kept_list_read AS {text}")
        try:
            cursor.execute(f"EXPLAIN EXECUTE kept_list_read({literals})")
            return "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE kept_list_read")


def test_a_volunteers_kept_list_finds_their_orders_by_id_without_knowing_them(city, api, volunteer):
    """A volunteer's list is one kept statement however many orders they have, their ids as
    one array (core/prepared.py); after a few runs PostgreSQL may plan it once for any ids.
    Planned so, it still finds them by the primary key and sorts them: no walk of the city's
    orders by date, no scan."""
    response = api(volunteer).get("/api/v1/orders?role=volunteer")
    assert response.status_code == 200 and response.json()["count"] == 2
    page, count = _list_statements(volunteer, "volunteer")
    assert "ANY(" in page[0] and "ANY(" in count[0]
    for sql, params in (page, count):
        plan = _generic_plan(sql, params)
        assert "orders_order_pkey" in plan and "Seq Scan on orders_order" not in plan, plan
        assert "created_at_" not in plan, plan  # not along the date's index


def _list_statements(user, role: str | None) -> list[tuple[str, list]]:
    """The page's and the count's SQL with their values, as OrderRows runs them."""
    from core.prepared import Ids
    from orders.selectors import OrderRows, _list_reads
    from orders.serializers import ORDER_ROW_COLUMNS

    rows = OrderRows(user, ORDER_ROW_COLUMNS, status=None, role=role, desks=None)
    page, count = _list_reads(rows._shape(), ORDER_ROW_COLUMNS)
    args = rows._args()
    statements = []
    for read, paged in ((page, True), (count, False)):
        compiled = next(c for k, c in read._compiled.items() if k[2] is paged)
        params = list(compiled.params)
        for place, index in compiled.places:
            params[place] = list(args[index]) if isinstance(args[index], Ids) else args[index]
        sql = f"{compiled.sql} LIMIT %s OFFSET %s" if paged else compiled.sql
        statements.append((sql, [*params, 50, 0] if paged else params))
    return statements
