"""`display(df)` / `displayHTML(html)`: previews kept for the step's metadata (and printed to its log).

A preview is the first 20 rows as a markdown table, with the row count when it is cheap to know
(a pandas frame, a list, or a Spark result of at most 20 rows); Databricks' interactive charts
have no counterpart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PREVIEW_ROWS = 20
MAX_HTML_CHARS = 10_000


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def preview(obj: Any) -> str:
    """A markdown preview of a Spark/pandas DataFrame, a list of rows/dicts, or any value."""
    if hasattr(obj, "limit") and hasattr(obj, "columns") and hasattr(obj, "collect"):  # Spark DataFrame (classic or Connect)
        rows = obj.limit(PREVIEW_ROWS + 1).collect()
        columns = list(obj.columns)
        more = len(rows) > PREVIEW_ROWS
        table = markdown_table(columns, [list(r) for r in rows[:PREVIEW_ROWS]])
        return table + ("\n\n(first 20 rows shown)" if more else f"\n\n{len(rows)} row(s)")
    if hasattr(obj, "head") and hasattr(obj, "columns") and hasattr(obj, "itertuples"):  # pandas
        head = obj.head(PREVIEW_ROWS)
        return markdown_table([str(c) for c in obj.columns], [list(r) for r in head.itertuples(index=False)]) + f"\n\n{len(obj)} row(s)"
    if isinstance(obj, list) and obj and all(isinstance(r, dict) for r in obj):
        columns = list(dict.fromkeys(k for r in obj for k in r))
        return markdown_table(columns, [[r.get(c) for c in columns] for r in obj[:PREVIEW_ROWS]]) + f"\n\n{len(obj)} row(s)"
    return repr(obj)


class Display:
    """The `display` and `displayHTML` globals of one notebook run; `items` feeds the step metadata."""

    def __init__(self, redact: Callable[[str], str] = lambda s: s) -> None:
        self.items: list[str] = []
        self._redact = redact

    def display(self, obj: Any = None, *args: Any, **kwargs: Any) -> None:
        if obj is None:
            return
        text = self._redact(preview(obj))
        self.items.append(text)
        print(text)

    def displayHTML(self, html: str) -> None:  # noqa: N802 - Databricks' name
        text = self._redact(str(html))[:MAX_HTML_CHARS]
        self.items.append(text)
        print(text)
