"""Cells of a sheet: their A1 references and their text."""

from __future__ import annotations

from ingest.reader import Cell


def a1(row: int, col: int) -> str:
    """0-based row/col to an A1 reference."""
    letters = ""
    n = col + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return f"{letters}{row + 1}"


def text(cell: Cell | None) -> str:
    """The cell's value as stripped text ("" for an empty or missing cell)."""
    return "" if cell is None or cell.value is None else str(cell.value).strip()


def row_get(row: list[Cell], col: int | None) -> Cell | None:
    """The row's cell in column `col`, None when there is no such column or the row is shorter."""
    return row[col] if col is not None and col < len(row) else None
