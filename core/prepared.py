"""Reads compiled to SQL once per process: a queryset whose shape never changes, kept with the
places of its parameters, so that a request pays for its statement and its rows, not for
building the statement again.

Why: Django builds and compiles a queryset on every evaluation. For the read every order
request starts with (the order, five joined tables and the caller's four relations to it as
EXISTS) that was ~7 ms of Python against 0.4 ms in PostgreSQL (docs/performance.md, "Sixth
pass"). The package that once did this (django-prepared-queries) stopped at Django 2.

    @prepared
    def _order_for(user_id: int, order_id: int) -> QuerySet[Order]:
        return Order.objects.select_related("category").filter(pk=order_id, ...)

    order = _order_for.first(user.pk, order_id)     # or .all(...) for every row

The function is called with stand-ins (numbers or strings nobody uses) the first time it runs
on a database alias, and compiled; after that each call puts its arguments in the stand-ins'
places and runs the kept SQL through Django's own iterables, so rows become the same model
instances (related objects, annotations, `.values()` dicts) the queryset would give. Arguments
are ints or strs only (a None, a list or a model would change the SQL's shape). At that first
compile, two sets of stand-ins must give the same SQL and each argument must land as a
parameter: a function whose SQL depends on its arguments' values fails loudly (NotPreparable)
instead of answering for someone else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)

# Far from any id, count or constant a query carries; the two rounds differ in parity, so a
# function that branches on a value's parity or sign shows it.
_STAND_IN_BASE = -7_919_000_000


class NotPreparable(TypeError):
    """The function's SQL is not one shape with its arguments as parameters."""


@dataclass(frozen=True)
class _Compiled:
    queryset: QuerySet
    compiler: SQLCompiler
    sql: str
    params: tuple[Any, ...]
    places: tuple[tuple[int, int], ...]  # (index in params, index of the argument)


class Prepared(Generic[M]):
    def __init__(self, build: Callable[..., QuerySet[M]]) -> None:
        self.build = build
        self.__name__ = build.__name__
        self.__doc__ = build.__doc__
        self._compiled: dict[tuple[str, tuple[type, ...]], _Compiled] = {}
        self._lock = threading.Lock()

    def all(self, *args: int | str, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        return list(self._queryset(args, using))

    def first(self, *args: int | str, using: str = DEFAULT_DB_ALIAS) -> M | None:
        rows = self.all(*args, using=using)
        return rows[0] if rows else None

    # --- internals -----------------------------------------------------------------------

    def _queryset(self, args: tuple[int | str, ...], alias: str) -> QuerySet[M]:
        kinds = tuple(_kind(a) for a in args)
        compiled = self._compiled.get((alias, kinds))
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get((alias, kinds)) or self._compile(kinds, alias)
                self._compiled[(alias, kinds)] = compiled
        params = list(compiled.params)
        for place, index in compiled.places:
            params[place] = args[index]
        sql = compiled.sql
        # A compiler of our own per call: it runs on this thread's connection (Django's are per
        # thread), and answers the kept SQL instead of compiling.
        compiler = object.__new__(type(compiled.compiler))
        compiler.__dict__ = {**compiled.compiler.__dict__, "connection": connections[alias]}
        compiler.as_sql = lambda *a, **kw: (sql, params)  # type: ignore[method-assign]
        template = compiled.queryset
        query = object.__new__(type(template.query))
        query.__dict__ = {**template.query.__dict__, "get_compiler": lambda *a, **kw: compiler}
        queryset = object.__new__(type(template))
        # Shallow on purpose: nothing is chained on it, it is evaluated once, here.
        queryset.__dict__ = {**template.__dict__, "_query": query, "_result_cache": None, "_db": alias}
        return queryset

    def _compile(self, kinds: tuple[type, ...], alias: str) -> _Compiled:
        rounds = []
        for parity in (0, 1):
            stand_ins = tuple(_stand_in(kind, i, parity) for i, kind in enumerate(kinds))
            queryset = self.build(*stand_ins)
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            index_of = {value: i for i, value in enumerate(stand_ins)}
            places = tuple((p, index_of[v]) for p, v in enumerate(params) if _hashable(v) and v in index_of)
            rounds.append((queryset, compiler, sql, tuple(params), places))
        (queryset, compiler, sql, params, places), (_, _, sql2, _, places2) = rounds
        missing = set(range(len(kinds))) - {index for _, index in places}
        if missing:
            raise NotPreparable(f"{self.__name__}: arguments {sorted(missing)} do not reach the SQL as parameters")
        if sql != sql2 or places != places2:
            raise NotPreparable(f"{self.__name__}: its SQL changes with its arguments' values")
        return _Compiled(queryset, compiler, sql, params, places)


def prepared(build: Callable[..., QuerySet[M]]) -> Prepared[M]:
    return Prepared(build)


def _kind(value: Any) -> type:
    # bool is an int to Python, not to SQL; None, lists and models change the query's shape.
    if type(value) not in (int, str):
        raise NotPreparable(f"a prepared read takes ints and strs, not {type(value).__name__}")
    return type(value)


def _stand_in(kind: type, index: int, parity: int) -> int | str:
    number = _STAND_IN_BASE - 10 * index - parity
    return number if kind is int else f"\x00stand-in{number}"


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
