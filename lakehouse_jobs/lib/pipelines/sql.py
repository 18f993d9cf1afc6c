"""The pipeline SQL dialect, translated into graph elements whose queries are plain Spark SQL.

    CREATE OR REFRESH MATERIALIZED VIEW x [(CONSTRAINT c EXPECT (cond) [ON VIOLATION DROP ROW|FAIL UPDATE], ...)] AS query
    CREATE OR REFRESH STREAMING TABLE x [(...)] [AS query]      -- no AS: a target for flows / AUTO CDC
    CREATE [OR REFRESH] LIVE TABLE / STREAMING LIVE TABLE        -- the legacy spellings
    CREATE TEMPORARY [LIVE] VIEW v AS query
    [CREATE FLOW f AS] AUTO CDC INTO t FROM STREAM(s) KEYS (k) [APPLY AS DELETE WHEN c] SEQUENCE BY col
        [COLUMNS * EXCEPT (a, b)] [STORED AS SCD TYPE 1|2]     -- also APPLY CHANGES INTO
    CREATE FLOW f AS INSERT INTO t [BY NAME] query               -- an append flow
    SET key = value                                              -- session conf while the pipeline runs

In a query, `STREAM(x)` / `STREAM x` (a streaming read of a dataset), `read_files(...)` /
`STREAM read_files(...)` / `cloud_files(...)` (files.py) and `LIVE.x` are replaced by temporary
views bound when the flow runs; the rest reaches Spark as written. sqlglot finds the tables a
query reads (the graph's edges); Spark's parser reports syntax errors (file, statement, line).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import SpecError
from lakehouse_jobs.lib.pipelines import naming
from lakehouse_jobs.lib.pipelines.context import check_name, reading
from lakehouse_jobs.lib.pipelines.graph import MATERIALIZED_VIEW, STREAMING_TABLE, VIEW, CdcSpec, Dataset, Flow, PipelineError, PipelineGraph
from lakehouse_jobs.lib.sql.statements import Statement, split_statements
from lakehouse_jobs.lib.tables.expectations import Expectation

_CREATE = re.compile(
    r"^\s*CREATE\s+(?:OR\s+(?:REFRESH|REPLACE)\s+)?(?P<mods>(?:(?:PRIVATE|TEMPORARY|TEMP)\s+)*)"
    r"(?P<kind>STREAMING\s+LIVE\s+TABLE|STREAMING\s+TABLE|LIVE\s+TABLE|MATERIALIZED\s+VIEW|STREAMING\s+LIVE\s+VIEW|LIVE\s+VIEW|VIEW|TABLE)"
    r"\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>[A-Za-z0-9_`.]+)",
    re.IGNORECASE | re.DOTALL,
)
_CDC = re.compile(
    r"^\s*(?:CREATE\s+FLOW\s+(?P<flow>[A-Za-z0-9_`]+)\s+AS\s+)?(?:AUTO\s+CDC|APPLY\s+CHANGES)\s+INTO\s+(?P<target>[A-Za-z0-9_`.]+)\s+"
    r"FROM\s+(?P<source>.+?)\s+KEYS\s*\((?P<keys>[^)]*)\)(?P<rest>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_INSERT_FLOW = re.compile(
    r"^\s*CREATE\s+FLOW\s+(?P<flow>[A-Za-z0-9_`]+)\s+AS\s+INSERT\s+INTO\s+(?:ONCE\s+)?(?P<target>[A-Za-z0-9_`.]+)\s+(?:BY\s+NAME\s+)?(?P<query>.*)$",
    re.IGNORECASE | re.DOTALL,
)
_SET = re.compile(r"^\s*SET\s+(?P<key>[A-Za-z0-9_.\-]+)\s*=\s*(?P<value>.*?)\s*$", re.IGNORECASE | re.DOTALL)
_CLAUSE_END = r"(?=\s+(?:APPLY\s+AS|SEQUENCE\s+BY|COLUMNS|STORED\s+AS|TRACK\s+HISTORY|IGNORE\s+NULL)\b|\s*$)"
_SOURCES = re.compile(r"\bSTREAM\s*\(|\bSTREAM\s+(?=read_files\b|cloud_files\b|[A-Za-z_`])|\bread_files\s*\(|\bcloud_files\s*\(|\bLIVE\s*\.", re.IGNORECASE)


def mask(text: str) -> str:
    """`text` with the inside of strings, quoted names and comments blanked (same length), so
    keywords and parentheses can be found by position."""
    out, i, n = list(text), 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "'\"`":
            j = i + 1
            while j < n and text[j] != ch:
                j += 2 if text[j] == "\\" and ch != "`" else 1
            for k in range(i + 1, min(j, n)):
                out[k] = "_" if ch == "`" else " "
            i = j + 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out[i:j] = " " * (j - i)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out[i:j] = " " * (j - i)
            i = j
        else:
            i += 1
    return "".join(out)


def _close(masked: str, start: int) -> int:
    """Index of the parenthesis closing the one at `start`."""
    depth = 0
    for i in range(start, len(masked)):
        if masked[i] == "(":
            depth += 1
        elif masked[i] == ")":
            depth -= 1
            if depth == 0:
                return i
    raise SpecError("sql", "a parenthesis is not closed")


def _split_top(text: str) -> list[str]:
    masked, parts, depth, last = mask(text), [], 0, 0
    for i, ch in enumerate(masked):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[last:i].strip())
            last = i + 1
    parts.append(text[last:].strip())
    return [p for p in parts if p]


def _literal(value: str) -> Any:
    text = value.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1].replace(text[0] * 2, text[0]).replace("\\" + text[0], text[0])
    if text.lower() in ("true", "false"):
        return text.lower()
    return text


def query_tables(query: str) -> list[str]:
    """The tables a query reads (CTE names left out); [] when sqlglot cannot parse it (Spark will say why)."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(query, read="databricks")
    except Exception:  # noqa: BLE001 - sqlglot's parse errors: Spark reports the real one
        return []
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = []
    for table in tree.find_all(exp.Table):
        if not table.name or table.name.lower() in ctes or table.name.startswith("__pipeline_"):
            continue
        names.append(".".join(p for p in (table.catalog, table.db, table.name) if p))
    return names


class _Translation:
    """A query with its pipeline sources replaced by temporary views bound at run time."""

    def __init__(self, query: str, graph: PipelineGraph, where: str):
        self.graph, self.where, self.sources = graph, where, []
        self.reads: set[naming.TableName] = set()
        self.query = self._translate(query)
        for name in query_tables(self.query):
            self.reads.add(naming.resolve(name, graph.catalog, graph.schema, where))

    def _placeholder(self, source: tuple[Any, ...]) -> str:
        self.sources.append(source)
        return f"__pipeline_src_{id(self)}_{len(self.sources)}"

    def _translate(self, text: str) -> str:
        masked = mask(text)
        match = _SOURCES.search(masked)
        if not match:
            return text
        head, word = text[: match.start()], match.group(0).lower().replace(" ", "")
        if word.startswith("live"):
            return head + self._translate(text[match.end() :])
        if word.startswith("stream"):
            after = match.end()
            if word.endswith("("):  # STREAM(x) or STREAM(read_files(...))
                end = _close(masked, after - 1)
                inner = text[after:end].strip()
                rest = text[end + 1 :]
            else:
                inner_match = re.match(r"(read_files|cloud_files)\s*\(", masked[after:], re.IGNORECASE)
                if inner_match:
                    end = _close(masked, after + inner_match.end() - 1)
                    inner, rest = text[after : end + 1], text[end + 1 :]
                else:
                    name = re.match(r"[A-Za-z0-9_`.]+", text[after:])
                    inner, rest = name.group(0), text[after + name.end() :]
            return head + self._source(inner, True) + self._translate(rest)
        end = _close(masked, match.end() - 1)
        return head + self._source(text[match.start() : end + 1], False) + self._translate(text[end + 1 :])

    def _source(self, inner: str, streaming: bool) -> str:
        call = re.match(r"(read_files|cloud_files)\s*\((.*)\)\s*$", inner, re.IGNORECASE | re.DOTALL)
        if not call:
            name = naming.resolve(inner, self.graph.catalog, self.graph.schema, self.where)
            self.reads.add(name)
            return self._placeholder(("table", name, streaming))
        args = _split_top(call.group(2))
        if not args:
            raise PipelineError(f"{self.where}: {call.group(1)} needs the path of the files")
        path, options = _literal(args[0]), {}
        if call.group(1).lower() == "cloud_files":  # cloud_files(path, format, map('k', 'v', ...))
            fmt = _literal(args[1]) if len(args) > 1 else "json"
            if len(args) > 2:
                pairs = _split_top(re.sub(r"^\s*map\s*\((.*)\)\s*$", r"\1", args[2], flags=re.IGNORECASE | re.DOTALL))
                options = {str(_literal(k)): str(_literal(v)) for k, v in zip(pairs[::2], pairs[1::2], strict=False)}
            return self._placeholder(("files", path, fmt, options, streaming, True))
        for arg in args[1:]:
            key, arrow, value = arg.partition("=>")
            if not arrow:
                raise PipelineError(f"{self.where}: read_files options are name => value, got {arg!r}")
            options[key.strip()] = str(_literal(value))
        fmt = options.pop("format", None)
        return self._placeholder(("files", path, fmt, options, streaming, False))

    def run(self) -> Any:
        state = reading()
        for index, source in enumerate(self.sources, start=1):
            view = f"__pipeline_src_{id(self)}_{index}"
            if source[0] == "table":
                frame = state.read(source[1], source[2])
                state.reads.add(source[1])
            else:
                frame = state.read_files(source[1], source[2], source[3], source[4], source[5])
            frame.createOrReplaceTempView(view)
        return state.spark.sql(self.query)


def _constraints(items: list[str], where: str) -> list[Expectation]:
    out = []
    for item in items:
        match = re.match(
            r"^CONSTRAINT\s+(?P<name>[A-Za-z0-9_`]+)\s+EXPECT\s*\((?P<cond>.*)\)\s*(?:ON\s+VIOLATION\s+(?P<action>DROP\s+ROW|FAIL\s+UPDATE))?\s*$",
            item, re.IGNORECASE | re.DOTALL,
        )  # fmt: skip
        if match is None:
            if item.upper().startswith("CONSTRAINT"):
                raise PipelineError(
                    f"{where}: cannot read the constraint {item!r} (expected CONSTRAINT name EXPECT (condition) [ON VIOLATION DROP ROW|FAIL UPDATE])"
                )
            continue  # a column definition: the query's schema wins here
        action = (match.group("action") or "").upper().split()
        out.append(
            Expectation(
                check_name(match.group("name").strip("`")),
                match.group("cond").strip(),
                {"DROP": "drop", "FAIL": "fail"}.get(action[0] if action else "", "warn"),
            )
        )
    return out


def _create(statement: str, match: re.Match[str], graph: PipelineGraph, where: str) -> None:
    kind_text = " ".join(match.group("kind").upper().split())
    mods = match.group("mods").upper()
    kind = VIEW if "VIEW" in kind_text and kind_text != "MATERIALIZED VIEW" else STREAMING_TABLE if "STREAMING" in kind_text else MATERIALIZED_VIEW
    if kind_text in ("VIEW", "TABLE") and "TEMP" not in mods and kind_text == "TABLE":
        raise PipelineError(f"{where}: CREATE TABLE is not a pipeline dataset; use CREATE OR REFRESH MATERIALIZED VIEW or STREAMING TABLE")
    name = naming.resolve(match.group("name"), graph.catalog, graph.schema, where)
    rest, masked = statement[match.end() :], mask(statement[match.end() :])
    expectations: list[Expectation] = []
    stripped = masked.lstrip()
    if stripped.startswith("("):
        start = len(masked) - len(stripped)
        end = _close(masked, start)
        expectations = _constraints(_split_top(rest[start + 1 : end]), where)
        rest, masked = rest[end + 1 :], masked[end + 1 :]
    as_match = re.search(r"\bAS\b", masked, re.IGNORECASE)
    clauses = rest[: as_match.start()] if as_match else rest
    comment = re.search(r"\bCOMMENT\s+('(?:[^'\\]|\\.|'')*')", clauses, re.IGNORECASE)
    partitions = re.search(r"\bPARTITIONED\s+BY\s*\(([^)]*)\)", clauses, re.IGNORECASE)
    dataset = Dataset(
        name, kind, where, str(_literal(comment.group(1))) if comment else None, expectations,
        partition_cols=[c.strip().strip("`") for c in partitions.group(1).split(",")] if partitions else [],
    )  # fmt: skip
    graph.add_dataset(dataset)
    if as_match is None:
        if kind != STREAMING_TABLE:
            raise PipelineError(f"{where}: {kind_text} {name.qualified} needs AS <query>")
        return
    translation = _Translation(rest[as_match.end() :].strip(), graph, where)
    graph.add_flow(Flow(name.table, name, func=translation.run, reads=translation.reads, where=where, sql=translation.query))


def _cdc(statement: str, match: re.Match[str], graph: PipelineGraph, where: str) -> None:
    masked_rest = mask(match.group("rest"))
    rest = match.group("rest")

    def clause(pattern: str) -> str | None:
        found = re.search(pattern + _CLAUSE_END, masked_rest, re.IGNORECASE | re.DOTALL)
        return rest[found.start(1) : found.end(1)].strip() if found else None

    for unsupported in (r"\bAPPLY\s+AS\s+TRUNCATE\b", r"\bTRACK\s+HISTORY\b", r"\bIGNORE\s+NULL\s+UPDATES\b"):
        if re.search(unsupported, masked_rest, re.IGNORECASE):
            raise PipelineError(
                f"{where}: {' '.join(unsupported.strip(chr(92) + 'b').replace(chr(92) + 's+', ' ').split())} is not supported here (see docs/bundles.md, Pipelines)"
            )
    sequence = clause(r"\bSEQUENCE\s+BY\s+(.+?)")
    if not sequence:
        raise PipelineError(f"{where}: AUTO CDC needs SEQUENCE BY <column>")
    scd = clause(r"\bSTORED\s+AS\s+SCD\s+TYPE\s+(\S+)") or "1"
    if scd not in ("1", "2"):
        raise PipelineError(f"{where}: STORED AS SCD TYPE is 1 or 2, got {scd}")
    except_cols = clause(r"\bCOLUMNS\s+\*\s+EXCEPT\s*\(([^)]*)\)")
    columns = None if except_cols is not None else clause(r"\bCOLUMNS\s+(.+?)")
    source_text = match.group("source").strip()
    source_match = re.match(r"^STREAM\s*\(\s*(.+?)\s*\)$|^STREAM\s+(\S+)$|^(\S+)$", source_text, re.IGNORECASE | re.DOTALL)
    if source_match is None:
        raise PipelineError(f"{where}: AUTO CDC reads FROM STREAM(<dataset>), got {source_text!r}")
    source = naming.resolve(next(g for g in source_match.groups() if g), graph.catalog, graph.schema, where)
    target = naming.resolve(match.group("target"), graph.catalog, graph.schema, where)
    cdc = CdcSpec(
        keys=[k.strip().strip("`") for k in match.group("keys").split(",") if k.strip()],
        sequence_by=sequence.strip("`"),
        apply_as_deletes=clause(r"\bAPPLY\s+AS\s+DELETE\s+WHEN\s+(.+?)"),
        stored_as_scd_type=int(scd),
        column_list=[c.strip().strip("`") for c in columns.split(",")] if columns else None,
        except_column_list=[c.strip().strip("`") for c in except_cols.split(",")] if except_cols else [],
    )
    flow = (match.group("flow") or target.table).strip("`")
    graph.add_flow(Flow(flow, target, source=source, cdc=cdc, where=where))


def load_sql(text: str, path: str | Path, graph: PipelineGraph) -> None:
    """Add the datasets and flows of one SQL source file to `graph`."""
    for statement in split_statements(text):
        _statement(statement, str(path), graph)


def _statement(statement: Statement, path: str, graph: PipelineGraph) -> None:
    where = f"{path}, statement {statement.number} (line {statement.line})"
    body = statement.text.strip().rstrip(";")
    code = mask(body)
    if not code.strip():
        return
    try:
        if match := _CDC.match(code):
            _cdc(body, _CDC.match(body) or match, graph, where)
        elif match := _INSERT_FLOW.match(code):
            target = naming.resolve(match.group("target"), graph.catalog, graph.schema, where)
            translation = _Translation(body[match.start("query") :], graph, where)
            once = bool(re.search(r"\bINTO\s+ONCE\b", code, re.IGNORECASE))
            graph.add_flow(
                Flow(match.group("flow").strip("`"), target, func=translation.run, reads=translation.reads, where=where, once=once, sql=translation.query)
            )
        elif match := _CREATE.match(code):
            _create(body, _CREATE.match(body) or match, graph, where)
        elif match := _SET.match(body):
            graph.conf[match.group("key")] = str(_literal(match.group("value")))
        else:
            first = " ".join(body.split()[:4])
            raise PipelineError(
                f"{where}: {first!r}... is not a pipeline statement (CREATE OR REFRESH MATERIALIZED VIEW / STREAMING TABLE, CREATE TEMPORARY VIEW, AUTO CDC INTO, CREATE FLOW, SET)"
            )
    except SpecError as exc:
        raise PipelineError(f"{where}: {exc.message}") from None
