"""Notebook files as numbered cells: Databricks source `.py`/`.sql`, `.ipynb`, plain `.py`.

Databricks' source format (what `databricks workspace export --format SOURCE` and Git folders write):

    # Databricks notebook source            <- `-- Databricks notebook source` in a .sql notebook
    print("a python cell")

    # COMMAND ----------                    <- `-- COMMAND ----------` in a .sql notebook

    # DBTITLE 1,Optional title
    # MAGIC %sql                            <- a cell in another language: every line `# MAGIC `
    # MAGIC SELECT 1

A `.py` file without the header line is one Python cell; an `.ipynb` is read with nbformat
(a code cell may start with a `%sql`/`%md`/... magic line, the default language comes from
the notebook's metadata). Every `Cell` keeps its 1-based number and the file line its code
starts on (for `.ipynb`, lines count within the cell), so errors read "notebook X, cell N, line L".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

LANGUAGES = ("python", "sql", "scala", "r")
MAGICS = ("python", "sql", "scala", "r", "md", "md-sandbox", "sh", "fs", "run", "pip", "conda")
LOCAL_KINDS = ("python", "sql", "md", "sh", "fs", "run", "pip")
_MAGIC_LINE = re.compile(r"^%([A-Za-z][\w-]*)(?:\s+(.*))?$")
_COMMENT = {"python": "#", "sql": "--", "scala": "//", "r": "#"}


class NotebookSourceError(ValueError):
    """A notebook file that cannot be read or parsed (the message names the file)."""


@dataclass(frozen=True)
class Cell:
    """One cell: `kind` is the language or magic (python, sql, md, sh, fs, run, pip, scala, r, ...),
    `source` its code without magic prefixes nor the `%kind` word, `argument` what followed the
    magic word on its line (`./setup $a="1"` for `%run`), `line` the file line `source` starts on."""

    number: int
    kind: str
    source: str
    line: int
    argument: str = ""
    title: str | None = None


@dataclass
class Notebook:
    path: Path
    language: str
    cells: list[Cell] = field(default_factory=list)

    def where(self, cell: Cell, line: int | None = None) -> str:
        return f"notebook {self.path}, cell {cell.number} (line {line if line is not None else cell.line})"


def parse_file(path: str | Path) -> Notebook:
    """The cells of the notebook file at `path` (NotebookSourceError with one sentence otherwise)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookSourceError(f"cannot read notebook {path}: {getattr(exc, 'strerror', None) or exc}") from None
    if path.suffix == ".ipynb":
        return parse_ipynb(text, path)
    language = "sql" if path.suffix == ".sql" else "python"
    return parse_source(text, path, language)


def parse_source(text: str, path: str | Path, language: str = "python") -> Notebook:
    """A Databricks source notebook (or, without its header line, one cell of `language`)."""
    path = Path(path)
    lines = text.splitlines()
    comment = _COMMENT[language]
    header = f"{comment} Databricks notebook source"
    if not lines or lines[0].strip() != header:
        return Notebook(path, language, _cells_of([(1, lines)], language, comment, path))
    chunks: list[tuple[int, list[str]]] = [(2, [])]
    separator = f"{comment} COMMAND ----------"
    for number, line in enumerate(lines[1:], start=2):
        if line.strip() == separator:
            chunks.append((number + 1, []))
        else:
            chunks[-1][1].append(line)
    return Notebook(path, language, _cells_of(chunks, language, comment, path))


def _cells_of(chunks: list[tuple[int, list[str]]], language: str, comment: str, path: Path) -> list[Cell]:
    cells: list[Cell] = []
    for start, chunk in chunks:
        first, body = _trim(start, chunk)
        if not body:
            continue
        title = None
        if body[0].startswith(f"{comment} DBTITLE"):
            title = body[0].partition(",")[2].strip() or None
            first, body = _trim(first + 1, body[1:])
            if not body:
                continue
        magic = f"{comment} MAGIC"
        if body[0].startswith(magic):
            unprefixed = []
            for offset, line in enumerate(body):
                if not line.startswith(magic) and line.strip():
                    raise NotebookSourceError(f"notebook {path}, line {first + offset}: a magic cell's lines must all start with {magic!r}, got {line[:60]!r}")
                unprefixed.append(line[len(magic) + 1 :] if line.startswith(magic + " ") else line[len(magic) :])
            cells.append(_magic_cell(len(cells) + 1, unprefixed, first, language, title, path))
        else:
            cells.append(Cell(len(cells) + 1, language, "\n".join(body), first, title=title))
    return cells


def _trim(start: int, lines: list[str]) -> tuple[int, list[str]]:
    """Drop leading and trailing blank lines, keeping the file line of the first kept one."""
    lo, hi = 0, len(lines)
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return start + lo, lines[lo:hi]


def _magic_cell(number: int, lines: list[str], first: int, language: str, title: str | None, path: Path) -> Cell:
    """A cell whose first line may be `%kind argument`; without a magic word it is `language` code."""
    match = _MAGIC_LINE.match(lines[0].strip())
    if not match:
        return Cell(number, language, "\n".join(lines), first, title=title)
    kind, argument = match.group(1).lower(), (match.group(2) or "").strip()
    if kind == "md-sandbox":
        kind = "md"
    if kind not in MAGICS:
        raise NotebookSourceError(f"notebook {path}, cell {number} (line {first}): unknown magic %{kind}")
    rest_start, rest = _trim(first + 1, lines[1:])
    if kind in ("run", "pip", "fs", "conda") and not rest:
        return Cell(number, kind, argument, first, argument=argument, title=title)
    return Cell(number, kind, "\n".join(rest), rest_start if rest else first + 1, argument=argument, title=title)


def parse_ipynb(text: str, path: str | Path) -> Notebook:
    """An `.ipynb` notebook read with nbformat; `line` counts within each cell."""
    import nbformat

    path = Path(path)
    try:
        nb = nbformat.reads(text, as_version=4)
    except (nbformat.reader.NotJSONError, json.JSONDecodeError, ValueError, KeyError) as exc:
        raise NotebookSourceError(f"notebook {path} is not a valid .ipynb file: {exc}") from None
    metadata = nb.get("metadata") or {}
    databricks = metadata.get("application/vnd.databricks.v1+notebook") or {}
    language = str(
        databricks.get("language") or (metadata.get("language_info") or {}).get("name") or (metadata.get("kernelspec") or {}).get("language") or "python"
    ).lower()
    if language not in LANGUAGES:
        raise NotebookSourceError(f"notebook {path}: unsupported notebook language {language!r}")
    cells: list[Cell] = []
    for raw in nb.cells:
        source = raw.get("source") or ""
        if raw.get("cell_type") == "markdown":
            if source.strip():
                cells.append(Cell(len(cells) + 1, "md", source, 1))
            continue
        if raw.get("cell_type") != "code" or not source.strip():
            continue
        first, body = _trim(1, source.splitlines())
        cells.append(_magic_cell(len(cells) + 1, body, first, language, None, path))
    return Notebook(path, language, cells)
