"""Hot-path statements written once, run without the ORM's query compiler.

Profiled under load (`bench/profile.py init`), building one ORM query (filter, joins,
ordering, compiling to SQL, then a model per row) cost about 1 ms of CPU, several times
the round trip it makes; a request of the merchant API makes several. For the few
statements every request of a hot path runs, the SQL is written here once per model and
database vendor, and rows become model instances through the ORM's own pieces
(`Model.from_db` and each column's database converters), so the instances are the ones
the ORM would have built: same types, same `_state`, usable for `save()`.

Only for statements whose shape never changes; anything else stays an ORM query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Model


@cache
def _columns(model: type[Model], vendor: str) -> tuple[list, list[str], list]:
    """The model's concrete fields, their attnames, and each one's converters."""
    del vendor  # part of the cache key: converters differ between databases
    fields = list(model._meta.concrete_fields)
    converters = []
    for field in fields:
        col = field.get_col(model._meta.db_table)
        found = connection.ops.get_db_converters(col) + field.get_db_converters(connection)
        converters.append((col, found))
    return fields, [f.attname for f in fields], converters


def select_list(model: type[Model], alias: str) -> str:
    """`alias.col1, alias.col2, ...` for every concrete column of `model`, in field order."""
    return _select_list(model, alias, connection.vendor)


@cache
def _select_list(model: type[Model], alias: str, vendor: str) -> str:
    # Joined once: quoting every column again per request showed in the intake's profile.
    quote = connection.ops.quote_name
    fields, _names, _conv = _columns(model, vendor)
    return ", ".join(f"{alias}.{quote(f.column)}" for f in fields)


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[Model], name: str) -> str:
    """One field's column name, quoted (`name` is the field's name, e.g. `payment`)."""
    return connection.ops.quote_name(model._meta.get_field(name).column)


def column_count(model: type[Model]) -> int:
    return len(_columns(model, connection.vendor)[0])


def instance_from_row(model: type[Model], values: Sequence) -> Model:
    """Build a model instance from its columns (in `select_list` order), as the ORM does."""
    _fields, names, converters = _columns(model, connection.vendor)
    converted = list(values)
    for i, (col, found) in enumerate(converters):
        for convert in found:
            converted[i] = convert(converted[i], col, connection)
    return model.from_db(connection.alias, names, converted)


@cache
def _insert_shape(model: type[Model], vendor: str) -> tuple[list, str, str, Any]:
    """The INSERT's fields, its head (`INSERT INTO t (cols) VALUES`), one row's
    placeholders, and the auto primary key to return (None when the model sets its own)."""
    del vendor
    meta = model._meta
    auto = meta.pk if meta.pk.db_returning else None
    fields = [f for f in meta.concrete_fields if f is not auto]
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)})"
    return fields, head, "(" + ", ".join(["%s"] * len(fields)) + ")", auto


def insert(objects: Sequence[Model]) -> None:
    """INSERT `objects` (one model) in one statement, as `save(force_insert=True)` would:
    `auto_now_add`/`auto_now` stamped, auto primary keys read back (RETURNING). For models
    without save() overrides or signal receivers (the payment and its events)."""
    if not objects:
        return
    model = type(objects[0])
    fields, head, row, auto = _insert_shape(model, connection.vendor)
    params: list = []
    for obj in objects:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    statement = f"{head} VALUES {', '.join([row] * len(objects))}"
    if auto is not None:
        returning, _ = connection.ops.return_insert_columns([auto])
        statement += f" {returning}"
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        if auto is not None:
            for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
                setattr(obj, auto.attname, pk)
    for obj in objects:
        obj._state.adding, obj._state.db = False, connection.alias


def insert_with_child(parent: Model, child: Model, *, link: str) -> None:
    """INSERT `parent` and `child`, whose foreign key `link` points at it, in ONE statement.

    `WITH parent AS (INSERT … RETURNING pk) INSERT INTO child (…) VALUES (…)`: one round
    trip instead of two, and, being one statement, atomic without a transaction around it
    (a unique violation of the parent leaves no child behind), on PostgreSQL. The parent's
    primary key is an auto one, read back; the child's is set in Python (a UUID) or read
    back too. Same limits as `insert`.

    Atomic whatever the caller does: in autocommit the one statement needs no BEGIN and
    COMMIT (two round trips); inside a caller's transaction it runs in a savepoint, so a
    unique violation aborts this write only; SQLite (embedded mode) takes no INSERT inside
    WITH, so there the two INSERTs run in a transaction.
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            insert([parent])
            setattr(child, type(child)._meta.get_field(link).name, parent)
            insert([child])
        return
    parent_fields, parent_head, parent_row, parent_auto = _insert_shape(
        type(parent), connection.vendor
    )
    child_fields, child_head, _child_row, child_auto = _insert_shape(type(child), connection.vendor)
    if parent_auto is None:
        raise ValueError("insert_with_child needs an auto primary key on the parent")
    quote = connection.ops.quote_name
    fk = type(child)._meta.get_field(link)
    parent_pk = f"(SELECT {quote(parent_auto.column)} FROM parent)"  # noqa: S608 (identifiers)
    child_values = ", ".join(parent_pk if f is fk else "%s" for f in child_fields)
    returning = [fk] + ([child_auto] if child_auto is not None else [])
    statement = (
        f"WITH parent AS ({parent_head} VALUES {parent_row}"
        f" RETURNING {quote(parent_auto.column)})"
        f" {child_head} VALUES ({child_values})"
        f" RETURNING {', '.join(quote(f.column) for f in returning)}"
    )
    params = [f.get_db_prep_save(f.pre_save(parent, True), connection) for f in parent_fields]
    params += [
        f.get_db_prep_save(f.pre_save(child, True), connection) for f in child_fields if f is not fk
    ]
    guard = transaction.atomic() if connection.in_atomic_block else contextlib.nullcontext()
    with guard, connection.cursor() as cursor:
        cursor.execute(statement, params)
        row = cursor.fetchone()
    setattr(parent, parent_auto.attname, row[0])
    setattr(child, fk.name, parent)  # the key and the cached relation, as the ORM keeps them
    if child_auto is not None:
        setattr(child, child_auto.attname, row[1])
    for obj in (parent, child):
        obj._state.adding, obj._state.db = False, connection.alias


def update_where(model: type[Model], *, where: dict[str, Any], values: dict[str, Any]) -> int:
    """`UPDATE t SET values WHERE where` (equality on each column); return the rows changed.

    The conditional UPDATE of a state change, as `filter(**where).update(**values)` with
    plain values (no expressions)."""
    meta = model._meta
    quote = connection.ops.quote_name
    set_fields = [meta.get_field(name) for name in values]
    where_fields = [meta.get_field(name) for name in where]
    statement = (
        f"UPDATE {quote(meta.db_table)} SET "  # noqa: S608 (identifiers from the model)
        + ", ".join(f"{quote(f.column)} = %s" for f in set_fields)
        + " WHERE "
        + " AND ".join(f"{quote(f.column)} = %s" for f in where_fields)
    )
    params = [f.get_db_prep_save(values[f.name], connection) for f in set_fields]
    params += [f.get_db_prep_value(where[f.name], connection) for f in where_fields]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


def update_with_child(
    model: type[Model], *, where: dict[str, Any], values: dict[str, Any], child: Model, link: str
) -> int:
    """`update_where`, and only for a row it changed, INSERT `child` (whose foreign key
    `link` points at that row), in ONE statement on PostgreSQL; return the rows changed.

    `WITH moved AS (UPDATE … RETURNING pk) INSERT INTO child (…) SELECT …, moved.pk FROM
    moved`: one round trip instead of four (BEGIN, UPDATE, INSERT, COMMIT), atomic by
    itself. A SELECT list does not take its columns' types from the INSERT as VALUES does,
    so each parameter is cast to its column's type. `where` must match one row at most
    (the primary key). SQLite: the UPDATE, then the INSERT if it changed a row, in a
    transaction. The child's primary key is set in Python (a UUID).
    """
    if connection.vendor != "postgresql":
        with transaction.atomic():
            changed = update_where(model, where=where, values=values)
            if changed:
                setattr(child, type(child)._meta.get_field(link).attname, where["id"])
                insert([child])
        return changed
    meta = model._meta
    quote = connection.ops.quote_name
    set_fields = [meta.get_field(name) for name in values]
    where_fields = [meta.get_field(name) for name in where]
    child_fields, child_head, _row, child_auto = _insert_shape(type(child), connection.vendor)
    if child_auto is not None:
        raise ValueError("update_with_child needs a child whose primary key is set in Python")
    fk = type(child)._meta.get_field(link)
    pk = quote(meta.pk.column)
    selected = ", ".join(
        f"moved.{pk}" if f is fk else f"CAST(%s AS {f.cast_db_type(connection)})"
        for f in child_fields
    )
    statement = (
        f"WITH moved AS (UPDATE {quote(meta.db_table)} SET "  # noqa: S608
        + ", ".join(f"{quote(f.column)} = %s" for f in set_fields)
        + " WHERE "
        + " AND ".join(f"{quote(f.column)} = %s" for f in where_fields)
        + f" RETURNING {pk}) {child_head} SELECT {selected} FROM moved"  # noqa: S608
    )
    params = [f.get_db_prep_save(values[f.name], connection) for f in set_fields]
    params += [f.get_db_prep_value(where[f.name], connection) for f in where_fields]
    params += [
        f.get_db_prep_save(f.pre_save(child, True), connection) for f in child_fields if f is not fk
    ]
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        changed = cursor.rowcount
    if changed:
        setattr(child, fk.attname, where["id"])
        child._state.adding, child._state.db = False, connection.alias
    return changed
