"""CSV exports that are safe to open in a spreadsheet.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a
formula by Excel, LibreOffice and Google Sheets (OWASP, "CSV Injection"). Reviewers open the
access-log export in one, and user agents and paths are chosen by the people being reviewed,
so every text cell that could start a formula is prefixed with a single quote, which the
spreadsheet shows as text. Numbers, dates and empty cells are written as they are.
"""

import csv
from collections.abc import Iterable

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell_safe(value):
    """``value`` as a spreadsheet will read it literally (text only; other types unchanged)."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file-like that hands back what is written, for streaming csv.writer rows."""

    def write(self, value):
        return value


class SafeCsvRows:
    """Turns rows into CSV lines one at a time (for a streaming response), each cell made
    safe with ``csv_cell_safe``."""

    def __init__(self):
        self._writer = csv.writer(_Echo())

    def line(self, row: Iterable) -> str:
        return self._writer.writerow([csv_cell_safe(cell) for cell in row])
