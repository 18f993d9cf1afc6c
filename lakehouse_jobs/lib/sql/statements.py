"""SQL text -> statements -> Spark: split a script on `;`, bind its parameters, run it in order.

Public API (used by `sql_task` files; meant for notebook `%sql` cells too):

- `split_statements(text) -> list[Statement]`: each statement exactly as written (never
  re-rendered), with its number and the 1-based line where its code starts. A `;` splits only
  outside '...' / "..." strings (backslash escapes), `...` identifiers, `--` and (nested) `/* */`
  comments, `$$ ... $$` / `$tag$ ... $tag$` bodies, and SQL-scripting compound blocks
  (`BEGIN ... END`, optionally labelled). Comment-only pieces are dropped.
- `bind(statement_text, params) -> (text, args)`: the legacy `{{name}}` and `${name}` forms
  substituted as literal text, and the named parameter markers (`:name`) the statement uses,
  with their values, for `spark.sql(text, args=...)` (inlined as escaped string literals when the
  session cannot bind markers: see `native_markers`).
- `run_statements(spark, statements, params, source=...) -> last DataFrame | None`: each
  statement on `spark`, in order; every statement is executed (a query too, through Spark's
  `noop` sink, except the last, returned for its caller to preview). A failure raises
  `StatementError` with one sentence: `<source>, statement N (line L): <Spark's first error line>`.

Why not sqlglot (installed here through dagster-dbt): its Spark tokenizer splits inside `$$`
bodies and SQL-scripting blocks, and re-rendering would change what the user wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_BLOCK_START = re.compile(r"(?:[A-Za-z_][A-Za-z0-9_]*\s*:\s*)?BEGIN\b(?!\s+TRANSACTION\b)", re.IGNORECASE)
_BLOCK_END_NOT_CLOSING = {"IF", "WHILE", "LOOP", "REPEAT", "FOR"}  # END IF... close blocks not counted as openers
_MUSTACHE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")
_DOLLAR_VAR = re.compile(r"\$\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}")
_QUERY_START = {"SELECT", "WITH", "FROM", "VALUES", "TABLE", "("}


@dataclass(frozen=True)
class Statement:
    """One statement: its text as written, its number in the script (1-based), the line its code starts on."""

    text: str
    line: int
    number: int = 1


class StatementError(RuntimeError):
    """A statement Spark refused or failed: one sentence naming the source, statement number and line."""

    def __init__(self, source: str, statement: Statement, message: str):
        self.source, self.statement, self.reason = source, statement, message
        super().__init__(f"{source}, statement {statement.number} (line {statement.line}): {message}")


def _skip(text: str, i: int) -> int | None:
    """The index after a string, quoted identifier, comment or $$ body starting at `i` (None if none starts there)."""
    n, ch = len(text), text[i]
    if ch in "'\"":
        j = i + 1
        while j < n and text[j] != ch:
            j += 2 if text[j] == "\\" else 1
        return min(j + 1, n)
    if ch == "`":
        j = i + 1
        while j < n:
            if text[j] == "`":
                if j + 1 < n and text[j + 1] == "`":  # `` inside a quoted identifier
                    j += 2
                    continue
                break
            j += 1
        return min(j + 1, n)
    if text.startswith("--", i):
        j = text.find("\n", i)
        return n if j < 0 else j
    if text.startswith("/*", i):  # Spark's bracketed comments nest
        depth, j = 0, i
        while j < n:
            if text.startswith("/*", j):
                depth, j = depth + 1, j + 2
            elif text.startswith("*/", j):
                depth, j = depth - 1, j + 2
                if depth == 0:
                    return j
            else:
                j += 1
        return n
    if ch == "$":
        tag = _DOLLAR_TAG.match(text, i)
        if tag and not (i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find(tag.group(0), tag.end())
            return n if end < 0 else end + len(tag.group(0))
    return None


def _tokens(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, kind) of each code token: 'skip' (string, comment...), 'word', ';', or one character."""
    i, n = 0, len(text)
    while i < n:
        end = _skip(text, i)
        if end is not None:
            yield i, end, "skip"
            i = end
            continue
        word = _IDENT.match(text, i)
        if word:
            yield i, word.end(), "word"
            i = word.end()
            continue
        if not text[i].isspace():
            yield i, i + 1, text[i]
        i += 1


def _code_start(text: str, start: int, end: int) -> int | None:
    """Where the first code (not whitespace, not a comment) of text[start:end] is."""
    for s, _e, kind in _tokens(text[start:end]):
        if kind != "skip" or not text[start + s :].startswith(("--", "/*")):
            return start + s
    return None


def code_text(text: str) -> str:
    """`text` with its strings, quoted identifiers and comments blanked (lines and offsets kept): what to search for words."""
    out = list(text)
    for s, e, kind in _tokens(text):
        if kind == "skip":
            out[s:e] = [c if c == "\n" else " " for c in text[s:e]]
    return "".join(out)


def split_statements(text: str) -> list[Statement]:
    """The statements of a SQL script, in order, each as written (see the module docstring)."""
    pieces: list[tuple[int, int]] = []
    start, depth, at_start, in_block, after_end = 0, 0, True, False, False
    tokens = list(_tokens(text))
    for index, (s, e, kind) in enumerate(tokens):
        if kind == "skip":
            continue
        if kind == ";" and depth <= 0:
            pieces.append((start, s))
            start, depth, at_start, in_block, after_end = e, 0, True, False, False
            continue
        if at_start:
            at_start = False
            in_block = kind == "word" and bool(_BLOCK_START.match(text, s))
        if in_block and kind == "word":
            word = text[s:e].upper()
            if word in ("BEGIN", "CASE") and not after_end:
                depth += 1
            elif word == "END":
                following = next((text[ts:te].upper() for ts, te, tk in tokens[index + 1 :] if tk != "skip"), "")
                if following not in _BLOCK_END_NOT_CLOSING:
                    depth -= 1
                after_end = True
                continue
        after_end = False
    pieces.append((start, len(text)))
    statements: list[Statement] = []
    for begin, end in pieces:
        code = _code_start(text, begin, end)
        if code is None:
            continue
        lead = begin + (len(text[begin:end]) - len(text[begin:end].lstrip()))
        statements.append(Statement(text[lead:end].rstrip(), text.count("\n", 0, code) + 1, len(statements) + 1))
    return statements


def _marker_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, name) of each `:name` marker outside strings, comments and bodies (`::` casts excluded)."""
    spans: list[tuple[int, int, str]] = []
    tokens = list(_tokens(text))
    for index, (s, e, kind) in enumerate(tokens):
        if kind != ":" or index + 1 >= len(tokens):
            continue
        ns, ne, next_kind = tokens[index + 1]
        before = tokens[index - 1] if index else None
        if next_kind == "word" and ns == e and not (before and before[2] == ":" and before[1] == s):
            spans.append((s, ne, text[ns:ne]))
    return spans


def markers(text: str) -> list[str]:
    """The named parameter markers (`:name`) of a statement, outside strings, comments and bodies, in order."""
    return list(dict.fromkeys(name for _, _, name in _marker_spans(text)))


def sql_literal(value: str) -> str:
    """`value` as a Spark SQL string literal (backslash escapes, Spark's default parser setting)."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def inline_markers(text: str, args: Mapping[str, str]) -> str:
    """`text` with each `:name` marker that has a value replaced by that value as a string literal."""
    for start, end, name in reversed(_marker_spans(text)):
        if name in args:
            text = text[:start] + sql_literal(args[name]) + text[end:]
    return text


_NATIVE_MARKERS: dict[int, bool] = {}


def native_markers(spark: Any) -> bool:
    """Whether `spark` binds named parameter markers itself (probed once per session).

    delta-spark 4.4.0's session extension on Spark 4.2.0 leaves every marker unbound
    (UNBOUND_SQL_PARAMETER even for `SELECT :p` with args={'p': ...}); there the markers are
    bound as escaped string literals instead, which is what Spark's binding of a str does.
    """
    key = id(spark)
    if key not in _NATIVE_MARKERS:
        try:
            spark.sql("SELECT :lakehouse_probe AS p", args={"lakehouse_probe": "x"}).collect()
            _NATIVE_MARKERS[key] = True
        except Exception:  # noqa: BLE001 - any refusal means: bind them here
            _NATIVE_MARKERS[key] = False
    return _NATIVE_MARKERS[key]


def substitute(text: str, params: Mapping[str, str]) -> str:
    """The legacy `{{name}}` and `${name}` forms replaced by their values as text; unknown names stay as written."""

    def value(match: re.Match[str]) -> str:
        return str(params[match.group(1)]) if match.group(1) in params else match.group(0)

    return _DOLLAR_VAR.sub(value, _MUSTACHE.sub(value, text))


def bind(text: str, params: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """(text with the legacy forms substituted, {marker: value} for the `:name` markers it uses that have a value)."""
    bound = substitute(text, params)
    return bound, {name: str(params[name]) for name in markers(bound) if name in params}


def first_line(exc: BaseException) -> str:
    """Spark's error in one line: the first non-empty line of its message (no JVM stack)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()
    return type(exc).__name__


def is_query(text: str) -> bool:
    first = next((text[s:e].upper() for s, e, kind in _tokens(text) if kind != "skip"), "")
    return first in _QUERY_START


def run_statements(spark: Any, statements: Sequence[Statement], params: Mapping[str, str] | None = None, source: str = "<sql>") -> Any:
    """Run each statement on `spark` in order; the last statement's DataFrame (None when there is none).

    Earlier queries are executed too (through the `noop` sink), as a SQL file on Databricks runs
    each of its statements. Each statement stands alone: those before a failure stay applied.
    """
    params = dict(params or {})
    last = None
    for position, statement in enumerate(statements):
        text, args = bind(statement.text, params)
        try:
            if args and not native_markers(spark):
                text, args = inline_markers(text, args), {}
            frame = spark.sql(text, args=args) if args else spark.sql(text)  # on Sail through runtime/sail_supply.py
            if position < len(statements) - 1 and is_query(text):
                frame.write.format("noop").mode("overwrite").save()
        except Exception as exc:  # noqa: BLE001 - Spark's error, reported in one sentence
            raise StatementError(source, statement, first_line(exc)) from None
        last = frame
    return last


def preview(frame: Any, rows: int = 20) -> dict[str, Any]:
    """The first `rows` rows (as dicts), the row count and the columns of a result DataFrame."""
    if frame is None or not frame.columns:
        return {"columns": [], "row_count": 0, "rows": []}
    first = [row.asDict(recursive=True) for row in frame.take(rows)]
    count = len(first) if len(first) < rows else frame.count()
    return {"columns": list(frame.columns), "row_count": count, "rows": first}
