"""One ingestion batch: parsed landing files split into bronze rows and refused records.

Two ways to learn which records a batch refuses, chosen by its size:
- a small batch is parsed once into Spark's cache and its refused records are
  collected *before* the data commit, so the commit can say how many there are
  (a batch refusing nothing then needs no quarantine write at all);
- a big batch (>= SINGLE_PASS_MIN_BYTES) is parsed once, while it is written, and its
  commit says "counted after the commit" (`REFUSED_PENDING`); caching 1M parsed records
  costs more than the write itself. JSON lines are parsed by an expression, record by
  record: their refused records ride along the write as a Spark Observation (no cost
  measured). The CSV reader is compiled into the write, and an Observation there cost
  ~20% of a 1M-row load; instead the files' lines are counted in Python (a byte count,
  ~30 ms per 100 MB): a commit with as many rows as lines refused nothing; otherwise
  the parse is read once more for its refused records.
  Its quarantine write always follows, even empty, and marks the batch settled.
A batch whose new columns must be found first (JSON in addNewColumns/failOnNewColumns)
is always cached: the schema decision needs a pass before the write. On Sail a batch is
parsed in Python (CSV by pyarrow, `read_arrow.py`; JSON lines by `json_lines.py`), which hands
over every refused record before the write: its frame holds loadable rows only (a staged file,
nothing to cache), and the commit says how many were refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.ingest.lines import number_lines
from lakehouse_jobs.lib.ingest.read import read_batch
from lakehouse_jobs.lib.ingest.spec import LINEAGE, RESCUED, IngestSpec
from lakehouse_jobs.lib.names import quote, validate_column
from lakehouse_jobs.lib.tables.quarantine import RAW_LIMIT, Rejected

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


SINGLE_PASS_MIN_BYTES = 32 << 20
REFUSED_PENDING = -1  # in the commit: refused records are counted after it


@dataclass
class Prepared:
    """A batch ready to commit: bronze rows (lazy), refused records, new columns."""

    data: DataFrame
    rejected: list[Rejected]  # known before the commit (all of them in two-pass mode)
    new_columns: list[str]
    frame: DataFrame  # the parse: cached (two passes) or not (one pass)
    observation: Any = None  # one pass, JSON: collects the refused records while `data` is written
    max_records: int | None = None  # one pass, CSV: the most records the files can hold (their lines)
    cached: bool = False  # `frame` is persisted (two passes over Spark's parse)

    @property
    def single_pass(self) -> bool:
        return self.observation is not None or self.max_records is not None

    @property
    def refused_before_commit(self) -> int:
        """What the data commit records: the count, or REFUSED_PENDING when it is only known after."""
        return REFUSED_PENDING if self.single_pass else len(self.rejected)

    def all_rejected(self, written: int) -> list[Rejected]:
        """Every refused record; in one-pass mode call it after `data` was written (`written` rows).

        A CSV batch whose every line became a bronze row refused nothing; otherwise (a refused
        record, a blank line, a quoted line break), like a write that reported no observed
        metrics, the parse is read once more for its refused records."""
        if self.observation is not None:
            from lakehouse_jobs.lib.tables.observation import observed_metrics

            metrics = observed_metrics(self.observation)
            if metrics is not None:
                return [*self.rejected, *_numbered(metrics["refused"])]
        elif self.max_records is None or written == self.max_records:
            return self.rejected
        refused = self.frame.filter("_bad IS NOT NULL").selectExpr(*_REFUSED).collect()
        return [*self.rejected, *_numbered(refused)]

    def release(self) -> None:
        if self.cached:
            self.frame.unpersist()


_REFUSED = ("_source_file", f"substring(_raw, 1, {RAW_LIMIT}) AS _raw", "_bad")


def _numbered(refused: list[Any]) -> list[Rejected]:
    """Spark's refused rows (file path, raw text, reason) as quarantine records with line numbers."""
    return number_lines([(r["_source_file"], r["_raw"], r["_bad"]) for r in refused], Path)


def prepare_batch(spark: SparkSession, spec: IngestSpec, table: Path, todo: list[Path], *, allow_single_pass: bool = True) -> Prepared:
    """Parse a batch and split it into bronze rows and refused records."""
    from pyspark.sql import functions as F

    existing = table_columns(spark, table)
    known = list(spec.types) or existing
    parsed = read_batch(spark, todo, spec.format, spec.delimiter, known)
    frame = parsed.frame
    if frame is None:
        frame = spark.createDataFrame([], "_record map<string,string>, _source_file string, _raw string, _bad string")
    needs_keys = spec.format == "json" and spec.mode in ("addNewColumns", "failOnNewColumns")
    single = allow_single_pass and not needs_keys and not parsed.complete and _size(todo) >= SINGLE_PASS_MIN_BYTES
    cached = not single and not parsed.complete  # a complete parse is a staged file scan: nothing to cache
    if cached:
        frame = frame.persist()
    extras = _extra_fields(frame.filter(F.col("_bad").isNull()), parsed, spec, known)
    new_columns: list[str] = []
    if extras and spec.mode == "failOnNewColumns":
        if cached:
            frame.unpersist()
        raise LakehouseError(
            f"{spec.source_table}: new columns {extras} in this batch and schema_mode is failOnNewColumns; add them to the declared columns or remove the files"
        )
    if spec.mode == "addNewColumns":
        new_columns = [c for c in extras if _valid(c)]
        known = [*known, *new_columns]
    for column in existing:
        if column not in known:
            known.append(column)  # keep the table's columns even when a declared list shrank
    rejected, observation, max_records = list(parsed.rejected), None, None
    if not parsed.complete:  # a complete parse (Sail's Python parsers) already put every refused record in `rejected`
        if not single:
            rejected.extend(_numbered(frame.filter(F.col("_bad").isNotNull()).selectExpr(*_REFUSED).collect()))
        elif spec.format == "json":
            from pyspark.sql import Observation

            observation = Observation()
            refused = F.when(F.col("_bad").isNotNull(), F.struct(*[F.expr(c) for c in _REFUSED]))
            frame = frame.observe(observation, F.collect_list(refused).alias("refused"))
        else:
            max_records = parsed.max_records()
    fields = None if spec.format == "json" else [h for header in parsed.headers.values() for h in header]
    data = frame.filter(F.col("_bad").isNull()).select(*_columns(spec, known, fields), "_source_file", F.current_timestamp().alias("_ingested_at"))
    return Prepared(data, rejected, new_columns, frame, observation, max_records, cached)


def _size(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        try:
            total += path.stat().st_size
        except OSError:
            pass
    return total


def table_columns(spark: SparkSession, table: Path) -> list[str]:
    from lakehouse_jobs.lib.tables.delta_io import is_delta_table, read_delta

    if not is_delta_table(table):
        return []
    return [c for c in read_delta(spark, table).columns if c not in LINEAGE]


def _valid(name: str) -> bool:
    try:
        validate_column(name)
        return name not in LINEAGE
    except SpecError:
        return False


def _extra_fields(good: DataFrame, parsed: Any, spec: IngestSpec, known: list[str]) -> list[str]:
    """Fields of this batch the table does not know yet (only computed when the mode needs them)."""
    from pyspark.sql import functions as F

    if spec.mode not in ("addNewColumns", "failOnNewColumns"):
        return []
    if spec.format == "csv":
        seen: list[str] = []
        for header in parsed.headers.values():
            seen.extend(h for h in header if h not in seen)
    else:
        seen = sorted(r[0] for r in good.select(F.explode(F.map_keys("_record"))).distinct().collect())
    return [name for name in seen if name not in known]


def _columns(spec: IngestSpec, known: list[str], fields: list[str] | None = None) -> list[Any]:
    """The bronze projection: known fields (typed when declared) and `_rescued_data`.

    `fields`: every key a record of this batch can carry, when the files say so up front
    (CSV headers); with none beyond `known` only type mismatches can be rescued."""
    from pyspark.sql import functions as F

    types = spec.types
    out, mismatches = [], []
    for name in known:
        raw = F.col("_record").getItem(name)
        kind = types.get(name, "string")
        if kind == "string":
            out.append(raw.alias(name))
            continue
        typed = F.expr(f"try_to_timestamp(_record[{_lit(name)}])") if kind == "timestamp" else raw.try_cast(kind)
        out.append(typed.alias(name))
        mismatches.extend([F.lit(name), F.when(raw.isNotNull() & typed.isNull(), raw)])
    unknown_keys = fields is None or not set(fields) <= set(known)
    if spec.mode not in ("rescue", "addNewColumns") or not (unknown_keys or mismatches):
        out.append(F.lit(None).cast("string").alias(RESCUED))
        return out
    # map_filter is a lambda Spark interprets row by row (~2 s per 1M rows); most rows have
    # nothing to rescue, and a key count plus the type checks say so without it.
    parts, may_rescue = [], F.lit(False)
    if unknown_keys:
        known_array = F.array(*[F.lit(k) for k in known]) if known else F.array().cast("array<string>")
        parts.append(F.map_filter("_record", lambda k, v: ~F.array_contains(known_array, k) & v.isNotNull()))
        present = sum((F.map_contains_key("_record", k).cast("int") for k in known), F.lit(0))
        may_rescue = F.size("_record") > present
    if mismatches:
        parts.append(F.map_filter(F.create_map(*mismatches), lambda k, v: v.isNotNull()))
        for mismatch in mismatches[1::2]:
            may_rescue = may_rescue | mismatch.isNotNull()
    rescued = parts[0] if len(parts) == 1 else F.map_concat(*parts)
    out.append(F.when(may_rescue, F.when(F.size(rescued) > 0, F.to_json(rescued))).cast("string").alias(RESCUED))
    return out


def _lit(name: str) -> str:
    quote(name)  # validates
    return f"'{name}'"
