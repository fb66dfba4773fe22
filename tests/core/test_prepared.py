"""Reads compiled once (core/prepared.py): the same rows as the queryset, for every caller, on
every thread, and a loud refusal for a read whose SQL is not one shape."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.db.models import Count, QuerySet
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from core.prepared import Ids, NotPreparable, prepared
from orders.models import Order
from orders.selectors import with_roles

pytestmark = pytest.mark.django_db

RELATED = ("category", "branch__area", "volunteer__user", "resident__resident", "grid")


def _read(uid: int, order_id: int) -> QuerySet[Order]:
    return with_roles(Order.objects.select_related(*RELATED), uid).filter(pk=order_id).order_by()


def _same(a: Order, b: Order) -> None:
    """Same row, same annotations, same related rows as the plain queryset gives."""
    assert (a.pk, a.status, a.description, a.created_at) == (b.pk, b.status, b.description, b.created_at)
    assert [getattr(a, f) for f in ("as_secretary", "as_staff", "as_offered", "as_follower")] == [
        getattr(b, f) for f in ("as_secretary", "as_staff", "as_offered", "as_follower")
    ]
    assert (a.category.name, a.branch.name, a.branch.area.name, a.grid.name) == (
        b.category.name,
        b.branch.name,
        b.branch.area.name,
        b.grid.name,
    )
    assert a.resident.resident.phone == b.resident.resident.phone
    assert (a.volunteer and a.volunteer.user.username) == (b.volunteer and b.volunteer.user.username)


def test_every_caller_gets_the_rows_and_relations_the_queryset_gives(
    submit, advance, resident, other_resident, secretary, other_secretary, staff, volunteer, outsider
):
    mine = advance(submit(), "claimed")
    theirs = submit(other_resident, description="Carry my shopping up, please.")
    read = prepared(_read)
    for user in (resident, other_resident, secretary, other_secretary, staff, volunteer, outsider):
        for order in (mine, theirs):
            kept, plain = read.first(user.pk, order.pk), _read(user.pk, order.pk).first()
            assert kept is not None and plain is not None
            _same(kept, plain)
    # The relations really differ between callers (the kept SQL is not one caller's answer).
    assert read.first(secretary.pk, mine.pk).as_secretary is True
    assert read.first(other_secretary.pk, mine.pk).as_secretary is False
    assert read.first(staff.pk, theirs.pk).as_staff is True
    assert read.first(resident.pk, 10**9) is None


def test_a_read_is_compiled_once_then_only_run(submit, resident, secretary):
    first, second = submit(), submit(description="Another errand, please.")
    read = prepared(_read)
    read.first(resident.pk, first.pk)
    got: list[Order | None] = []
    with CaptureQueriesContext(connection) as ran:
        compiled = _compiles(lambda: got.append(read.first(secretary.pk, second.pk)))
    order = got[0]
    assert order is not None and order.pk == second.pk and order.as_secretary is True
    assert compiled == 0
    assert len(ran) == 1


def test_values_and_aggregates_come_back_as_the_queryset_gives_them(submit, resident, other_resident):
    submit(), submit(), submit(other_resident, description="Someone else's errand.")

    @prepared
    def counts(uid: int, status: str) -> QuerySet:
        return Order.objects.filter(resident_id=uid, status=status).values("status").annotate(n=Count("id"))

    assert counts.all(resident.pk, "submitted") == [{"status": "submitted", "n": 2}]
    assert counts.all(other_resident.pk, "submitted") == [{"status": "submitted", "n": 1}]
    assert counts.all(resident.pk, "closed") == []


def test_a_read_that_drops_an_argument_is_refused():
    @prepared
    def forgets(uid: int, order_id: int) -> QuerySet[Order]:
        return Order.objects.filter(pk=order_id)

    with pytest.raises(NotPreparable, match="do not reach the SQL"):
        forgets.first(1, 2)


def test_a_read_whose_sql_depends_on_the_values_is_refused():
    @prepared
    def branches(order_id: int) -> QuerySet[Order]:
        # The SQL's shape changes with the value: a kept copy would answer wrong for the other.
        if order_id % 2:
            return Order.objects.filter(pk=order_id)
        return Order.objects.filter(pk=order_id, status="submitted")

    with pytest.raises(NotPreparable, match="changes with"):
        branches.first(3)


def _compiles(run) -> int:
    """How many times `run()` compiles a queryset to SQL."""
    compiled: list[int] = []
    real = SQLCompiler.as_sql

    def counting(self, *args, **kwargs):
        compiled.append(1)
        return real(self, *args, **kwargs)

    SQLCompiler.as_sql = counting  # type: ignore[method-assign]
    try:
        run()
    finally:
        SQLCompiler.as_sql = real  # type: ignore[method-assign]
    return len(compiled)


def test_ids_are_one_parameter_whatever_their_number(submit, resident):
    orders = [submit(description=f"Errand number {i}, please.") for i in range(4)]
    ids = [o.pk for o in orders]

    @prepared
    def of(uid: int, wanted: Ids) -> QuerySet:
        return Order.objects.filter(resident_id=uid, pk__any_of=wanted).order_by("pk").values_list("pk", flat=True)

    assert of.all(resident.pk, Ids(ids[:1])) == ids[:1]  # compiled here, for one id
    seen: list[list[int]] = []
    assert _compiles(lambda: seen.extend(of.all(resident.pk, Ids(w)) for w in (ids, ids[1:3], [], [10**9]))) == 0
    assert seen == [ids, ids[1:3], [], []]
    assert list(Order.objects.filter(pk__any_of=ids[2:]).order_by("pk")) == orders[2:]  # a lookup of its own


def test_a_page_is_the_slice_of_the_read_and_every_page_is_one_statement(submit, resident):
    orders = [submit(description=f"Errand number {i}, please.") for i in range(5)]

    @prepared
    def mine(uid: int) -> QuerySet:
        return Order.objects.filter(resident_id=uid).order_by("-pk").values_list("pk", flat=True)

    everything = list(mine.all(resident.pk))
    assert everything == sorted((o.pk for o in orders), reverse=True)
    assert mine.page(resident.pk, offset=0, limit=2) == everything[:2]
    pages: list[list[int]] = []
    assert _compiles(lambda: pages.extend(mine.page(resident.pk, offset=o, limit=2) for o in (2, 4, 6))) == 0
    assert pages == [everything[2:4], everything[4:], []]


def test_a_read_that_slices_itself_has_no_pages():
    @prepared
    def sliced(uid: int) -> QuerySet:
        return Order.objects.filter(resident_id=uid).order_by("pk")[:5]

    with pytest.raises(NotPreparable, match="may not slice"):
        sliced.page(1, offset=0, limit=5)


@pytest.mark.parametrize("value", [None, True, [1, 2], 1.5])
def test_only_numbers_and_text_are_taken(value):
    read = prepared(_read)
    with pytest.raises(NotPreparable):
        read.first(1, value)  # type: ignore[arg-type]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_another_thread_runs_the_kept_read_on_its_own_connection(submit, resident, secretary):
    order = submit()
    read = prepared(_read)
    assert read.first(resident.pk, order.pk) is not None  # compiled on this thread's connection
    seen: dict[str, object] = {}

    def elsewhere() -> None:
        from django.db import connections

        try:
            with CaptureQueriesContext(connections["default"]) as ran:
                seen["order"] = read.first(secretary.pk, order.pk)
            seen["ran"] = len(ran)
        finally:
            connections.close_all()

    thread = threading.Thread(target=elsewhere)
    thread.start()
    thread.join(timeout=30)
    got = seen["order"]
    assert isinstance(got, Order) and got.as_secretary is True
    assert seen["ran"] == 1  # on the thread's own connection, where its queries are counted
