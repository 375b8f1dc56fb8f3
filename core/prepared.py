# ruff: noqa: S608 - the SQL is the ORM's own compilation; every value is a parameter
"""QuerySet shapes compiled once and run as prepared statements on PostgreSQL.

A timeline page's query costs more to compile (Django's compiler, in Python) and to plan
(PostgreSQL, for a query with the visibility rule's joins) than to run: ~8 ms of planning
against ~1 ms of execution at 1,000,000 posts (docs/performance.md). So a *shape* — a
QuerySet whose structure is fixed and whose values change per request — is compiled once,
with sentinel values standing for its arguments, and its parameters are mapped back to the
arguments by finding the sentinels in them (failing loudly if one is missing). On
PostgreSQL the SQL is then ``PREPARE``d once per connection and run with ``EXECUTE``; on
other databases it runs as it is. The QuerySet stays the one statement of the rule it
applies: change the QuerySet and the prepared SQL follows (its name carries a digest of the
SQL, so a connection never runs a stale one).
"""

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from weakref import WeakKeyDictionary

from django.db import connection
from django.db.models import QuerySet

# Sentinels stand for a shape's arguments while it compiles: ids never used (negative, far
# below any row), distinct per argument, so each parameter can be told apart.
_SENTINEL_BASE = -7_340_000_000_000


class ShapeChanged(Exception):
    """A shape's declared argument is not among its QuerySet's compiled parameters (the
    QuerySet dropped or transformed it), so preparing it would run the wrong query."""


@dataclass(frozen=True)
class Compiled:
    """A statement compiled once: its SQL with ``%s`` placeholders and what each placeholder
    takes — an argument's name, or a constant of the shape (``Constant``) — and, for a
    QuerySet of model rows, how to build the instances."""

    sql: str
    parameters: tuple = ()
    model: type | None = None
    attnames: tuple[str, ...] = ()
    converters: tuple = field(default=(), compare=False)

    @cached_property
    def name(self) -> str:
        """The statement's name on a connection: it changes whenever the SQL does."""
        digest = hashlib.sha1(repr((self.sql, self.parameters)).encode(), usedforsecurity=False)
        return "q_" + digest.hexdigest()[:16]

    def numbered(self) -> str:
        """The SQL with PostgreSQL's ``$1, $2, …`` placeholders, for ``PREPARE``."""
        marks = iter(range(1, len(self.parameters) + 1))
        return re.sub(r"%s|%%", lambda m: f"${next(marks)}" if m[0] == "%s" else "%", self.sql)

    def params(self, values: Mapping[str, object]) -> list:
        return [
            parameter.value if isinstance(parameter, Constant) else values[parameter]
            for parameter in self.parameters
        ]


@dataclass(frozen=True)
class Constant:
    """A parameter that is part of a shape (a value the QuerySet itself states, such as a
    rule's literal), bound the same on every execution."""

    value: object


def sentinels(names: Sequence[str]) -> dict[str, int]:
    """A sentinel value for each argument name (see ``queryset_compile``)."""
    return {name: _SENTINEL_BASE - index for index, name in enumerate(names)}


def queryset_compile(build: Callable[..., QuerySet], names: Sequence[str] = ()) -> Compiled:
    """Compile ``build(**arguments)`` for the current connection's database, with a sentinel
    for each of ``names``, and map its parameters back: a sentinel is that argument, any
    other value a constant of the shape. Raises ``ShapeChanged`` if an argument's sentinel is
    not among the parameters as it was given (the QuerySet transformed or dropped it)."""
    marks = sentinels(names)
    by_value = {value: name for name, value in marks.items()}
    queryset = build(**marks)
    compiler = queryset.query.get_compiler(connection=connection)
    sql, params = compiler.as_sql()
    parameters = tuple(
        by_value[param] if type(param) is int and param in by_value else Constant(param)
        for param in params
    )
    unused = set(names) - {parameter for parameter in parameters if isinstance(parameter, str)}
    if unused:
        raise ShapeChanged(
            f"{queryset.model.__name__} query: the arguments {sorted(unused)} are not among "
            f"its compiled parameters {list(params)}; the shape changed: {sql}"
        )
    model, attnames, converters = None, (), ()
    info = compiler.klass_info
    if info is not None and not info.get("related_klass_infos"):
        selected = [compiler.select[index][0] for index in info["select_fields"]]
        if len(selected) == len(compiler.select):  # plain model rows, nothing annotated
            model = info["model"]
            attnames = tuple(column.target.attname for column in selected)
            converters = tuple(compiler.get_converters(selected).items())
    return Compiled(sql, parameters, model, attnames, converters)


# Connection → the names of the statements prepared on it (a prepared statement lives as
# long as its session, whatever its transactions do).
_prepared: "WeakKeyDictionary[object, set[str]]" = WeakKeyDictionary()


def prepared_execute(cursor, compiled: Compiled, values: Mapping[str, object]) -> None:
    """Run ``compiled`` with ``values`` (by argument name) on ``cursor``: on PostgreSQL
    prepared once per connection and executed by name (the plan is cached with it), on
    other databases as it is. (Behind a transaction-pooling PgBouncer, prepared statements
    need its ``max_prepared_statements``.)"""
    params = compiled.params(values)
    if connection.vendor != "postgresql":
        cursor.execute(compiled.sql, params)
        return
    name = compiled.name
    raw = connection.connection
    names = _prepared.setdefault(raw, set())
    if name not in names:
        # Straight to psycopg: a per-connection set-up, not one of the request's queries.
        raw.execute(f"PREPARE {name} AS {compiled.numbered()}")
        names.add(name)
    if params:
        cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
    else:
        cursor.execute(f"EXECUTE {name}")


def prepared_instances(compiled: Compiled, values: Mapping[str, object]) -> list:
    """The model instances ``compiled`` (a QuerySet of plain model rows) selects for
    ``values``, converted and built as the ORM's iterator builds them."""
    if compiled.model is None:
        raise ShapeChanged("prepared_instances needs a QuerySet of plain model rows")
    with connection.cursor() as cursor:
        prepared_execute(cursor, compiled, values)
        rows = cursor.fetchall()
    alias, model, attnames = connection.alias, compiled.model, compiled.attnames
    built = []
    for row in rows:
        if compiled.converters:
            row = list(row)
            for index, (chain, expression) in compiled.converters:
                for converter in chain:
                    row[index] = converter(row[index], expression, connection)
        built.append(model.from_db(alias, attnames, row))
    return built


BIGINT_MAX = 2**63 - 1  # the largest id a prepared (typed ``bigint``) parameter holds


@lru_cache(maxsize=64)
def _shape_compiled(vendor: str, shape: Callable[..., QuerySet], arguments: tuple) -> Compiled:
    return queryset_compile(shape, arguments)


def shape_rows(shape: Callable[..., QuerySet], **arguments: int) -> list:
    """``list(shape(**arguments))``, compiled once per shape and run as a prepared statement
    on PostgreSQL (as ``feeds.selectors.keyset_page_prepared``, for a query with no cursor).
    ``shape``: a module-level function of ``arguments`` returning a QuerySet of model rows;
    each argument an id in PostgreSQL's ``bigint`` range (up to ``BIGINT_MAX``)."""
    compiled = _shape_compiled(connection.vendor, shape, tuple(sorted(arguments)))
    return prepared_instances(compiled, arguments)


_COMMON_SIZES = (20, 30)  # a timeline page; a materialised page's candidates (20 + 10)


def size_bucket(count: int) -> int:
    """The size a statement is prepared for, for ``count`` rows or ids: the common page
    sizes as they are, others rounded up to a power of two (so a connection holds a few
    statements per shape, not one per size)."""
    return count if count in _COMMON_SIZES else 1 << (count - 1).bit_length()
