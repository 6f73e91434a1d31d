"""Reading query answers: the wanted fields of every row, in the wanted order."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

from marketdata_pipeline.baostock.errors import ProtocolError


def pick_fields(result, wanted: Sequence[str], source: str) -> list[tuple[str, ...]]:
    """The rows of a ResultSet as tuples of the `wanted` fields, whatever order it answered in.

    An empty answer is no rows, whatever its fields; a non-empty one missing a
    wanted field raises ProtocolError naming `source`.
    """
    if not result.rows:
        return []
    fields = [name.strip() for name in result.fields]
    missing = [name for name in wanted if name not in fields]
    if missing:
        raise ProtocolError(f"{source} answered without fields {missing} (got {fields})")
    positions = [fields.index(name) for name in wanted]
    if len(positions) == 1:
        return [(row[positions[0]],) for row in result.rows]
    pick = itemgetter(*positions)  # in C: a history load picks millions of rows
    return list(map(pick, result.rows))
