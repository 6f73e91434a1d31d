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
    positions = _positions(result, wanted, source)
    if len(positions) == 1:
        return [(row[positions[0]],) for row in result.rows]
    pick = itemgetter(*positions)  # in C: a history load picks millions of rows
    return list(map(pick, result.rows))


def pick_columns(result, wanted: Sequence[str], source: str) -> dict[str, list[str]]:
    """The `wanted` fields of a ResultSet as columns (name -> values), as `pick_fields` reads them."""
    if not result.rows:
        return {name: [] for name in wanted}
    positions = _positions(result, wanted, source)
    return {name: list(map(itemgetter(at), result.rows)) for name, at in zip(wanted, positions, strict=True)}


def _positions(result, wanted: Sequence[str], source: str) -> list[int]:
    fields = [name.strip() for name in result.fields]
    missing = [name for name in wanted if name not in fields]
    if missing:
        raise ProtocolError(f"{source} answered without fields {missing} (got {fields})")
    return [fields.index(name) for name in wanted]
