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
are ints, strs, or `Ids`: a list of ids sent as one array parameter and matched with the
`any_of` lookup (`filter(pk__any_of=ids)`), so that any number of ids is one shape; a None, a
plain list or a model would change the SQL's shape. `page(…, offset=, limit=)` reads a slice of
an unsliced read with LIMIT and OFFSET as parameters, one statement for every page. At that first
compile, two sets of stand-ins must give the same SQL and each argument must land as a
parameter: a function whose SQL depends on its arguments' values fails loudly (NotPreparable)
instead of answering for someone else.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Field, Lookup, Model, QuerySet
from django.db.models.fields.related import ForeignObject
from django.db.models.sql.compiler import SQLCompiler

M = TypeVar("M", bound=Model)

# Far from any id, count or constant a query carries; the two rounds differ in parity, so a
# function that branches on a value's parity or sign shows it.
_STAND_IN_BASE = -7_919_000_000


class NotPreparable(TypeError):
    """The function's SQL is not one shape with its arguments as parameters."""


class Ids(list[int]):
    """Ids sent to the database as one parameter (an array on PostgreSQL, JSON text on SQLite)
    and matched with `any_of`: the SQL is the same for one id or a thousand, where `__in` has a
    placeholder per id and so a statement (and a plan, and a compiled read) per length.
    Hashed by identity: a compile finds its stand-in among the parameters by identity."""

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __init__(self, ids: Iterable[int] = ()) -> None:
        super().__init__(int(i) for i in ids)


class AnyOf(Lookup):
    """`column = ANY(ids)`: `filter(pk__any_of=Ids(...))`. PostgreSQL plans it as the `IN` list
    it would have turned it into, from the column's index."""

    lookup_name = "any_of"
    prepare_rhs = False

    def get_db_prep_lookup(self, value: Any, connection: Any) -> tuple[str, list[Any]]:
        return "%s", [value if isinstance(value, Ids) else Ids(value)]

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} IN (SELECT value FROM json_each({rhs}))", [*lhs_params, *rhs_params]  # noqa: S608 (compiled SQL)


# On every column, foreign keys too (their lookups are their own: ForeignObject.get_class_lookups).
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)
# The embedded database reads the ids as a JSON array (json_each above); psycopg sends an
# `Ids` as the list it is (an array).
sqlite3.register_adapter(Ids, json.dumps)


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
        self._compiled: dict[tuple[str, tuple[type, ...], bool], _Compiled] = {}
        self._lock = threading.Lock()

    def all(self, *args: int | str | Ids, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        return list(self._queryset(args, using))

    def first(self, *args: int | str | Ids, using: str = DEFAULT_DB_ALIAS) -> M | None:
        rows = self.all(*args, using=using)
        return rows[0] if rows else None

    def page(self, *args: int | str | Ids, offset: int, limit: int, using: str = DEFAULT_DB_ALIAS) -> list[M]:
        """Rows `offset` to `offset + limit` of the read (which must not slice itself): one
        kept statement for every page, where a slice puts its numbers in the SQL's text."""
        return list(self._queryset(args, using, (max(0, int(limit)), max(0, int(offset)))))

    # --- internals -----------------------------------------------------------------------

    def _queryset(
        self, args: tuple[int | str | Ids, ...], alias: str, limits: tuple[int, int] | None = None
    ) -> QuerySet[M]:
        kinds = tuple(_kind(a) for a in args)
        key = (alias, kinds, limits is not None)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key) or self._compile(kinds, alias, paged=limits is not None)
                self._compiled[key] = compiled
        params = list(compiled.params)
        for place, index in compiled.places:
            params[place] = args[index]
        sql = compiled.sql
        if limits is not None:
            sql, params = f"{sql} LIMIT %s OFFSET %s", [*params, *limits]
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

    def _compile(self, kinds: tuple[type, ...], alias: str, *, paged: bool) -> _Compiled:
        rounds = []
        for parity in (0, 1):
            stand_ins = tuple(_stand_in(kind, i, parity) for i, kind in enumerate(kinds))
            queryset = self.build(*stand_ins)
            if paged and (queryset.query.is_sliced or queryset.query.select_for_update):
                # LIMIT/OFFSET go at the end of the SQL: after a slice or FOR UPDATE they would not.
                raise NotPreparable(f"{self.__name__}: a paged read may not slice or lock itself")
            compiler = queryset.query.get_compiler(using=alias)
            sql, params = compiler.as_sql()
            index_of = {_identity(value): i for i, value in enumerate(stand_ins)}
            places = tuple(
                (p, index_of[_identity(v)]) for p, v in enumerate(params) if _hashable(v) and _identity(v) in index_of
            )
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
    # bool is an int to Python, not to SQL; None, plain lists and models change the query's shape.
    if type(value) not in (int, str, Ids):
        raise NotPreparable(f"a prepared read takes ints, strs and Ids, not {type(value).__name__}")
    return type(value)


def _stand_in(kind: type, index: int, parity: int) -> int | str | Ids:
    number = _STAND_IN_BASE - 10 * index - parity
    if kind is Ids:
        return Ids([number])
    return number if kind is int else f"\x00stand-in{number}"


def _identity(value: Any) -> Any:
    # By value, Ids too: Django copies a list it is given (Query.resolve_lookup_value), and
    # each stand-in holds a number of its own.
    return ("ids", tuple(value)) if isinstance(value, Ids) else value


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
