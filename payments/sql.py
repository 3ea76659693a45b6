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

from collections.abc import Sequence
from functools import cache

from django.db import connection
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
    quote = connection.ops.quote_name
    fields, _names, _conv = _columns(model, connection.vendor)
    return ", ".join(f"{alias}.{quote(f.column)}" for f in fields)


def table(model: type[Model]) -> str:
    """The model's table name, quoted."""
    return connection.ops.quote_name(model._meta.db_table)


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
