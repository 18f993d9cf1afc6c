"""Read a batch of landing files and sort every record into "loadable" or "refused".

Spark does the reading (CSV in PERMISSIVE mode with a corrupt-record column, JSON
lines as text parsed with `from_json` into a map), so a 1M-row file is read by
Spark, not by a Python loop. On Sail, whose readers differ, CSV is parsed by pyarrow
(`read_arrow.py`) and JSON lines by Python's json module the way the JVM parses them
(`json_lines.py`). Python only looks at what Spark cannot judge: whole
files that are empty, binary or broken gzip (checked on their first bytes; gzip
streams to the end) and CSV headers (first line). Line numbers of refused records
come from a Python pass over the few files that have one.

Every record comes out as a `map<string,string>` of field -> raw text (`_record`),
so schema decisions (known, new, rescued columns) are made once, in ingestion.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.ingest.json_lines import MAX_JSON_STRING_CHARS, NOT_OBJECT, OVER_LIMIT, TEXT_AFTER
from lakehouse_jobs.lib.ingest.lines import REPLACEMENT, WRONG_ENCODING, count_lines, file_lines, first_line, open_file
from lakehouse_jobs.lib.tables.quarantine import Rejected

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CORRUPT = "_corrupt_record"
_GLOB = re.compile(r"([\\\[\]{}?*])")  # Hadoop's glob pattern characters (and its escape)


@dataclass
class Parsed:
    """A batch read: `frame` has _record, _source_file, _bad (reason or null), _raw (refused records only)."""

    frame: DataFrame | None
    rejected: list[Rejected] = field(default_factory=list)
    headers: dict[str, list[str]] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # the files `frame` reads
    complete: bool = False  # `rejected` holds every refused record: `frame` has loadable rows only

    def max_records(self) -> int:
        """CSV: at most this many records are in `frame`, its files' lines without headers
        (every record Spark makes, loadable or refused, holds a line of its own)."""
        return sum(count_lines(path) - 1 for path in self.files)


def precheck(path: Path) -> Rejected | None:
    """A whole-file problem (empty, binary, broken gzip), or None when the file is readable."""
    try:
        if path.stat().st_size == 0:
            return Rejected(str(path), None, None, "empty file")
        with open_file(path) as handle:
            head = handle.read(8192)
            if path.name.endswith(".gz"):
                while handle.read(1 << 20):  # a truncated gzip only fails at its end
                    pass
    except (OSError, EOFError, zlib.error) as exc:
        return Rejected(str(path), None, None, f"unreadable file ({type(exc).__name__}: {exc})")
    if not head.strip():
        return Rejected(str(path), None, head.decode("utf-8", "replace"), "empty file")
    if b"\x00" in head:
        return Rejected(str(path), None, head[:200].decode("utf-8", "replace"), "binary file (NUL bytes), not text")
    return None


def csv_header(path: Path, delimiter: str) -> list[str]:
    """The first line's fields, made unique and non-empty (they become map keys)."""
    fields = next(csv.reader(io.StringIO(first_line(path)[0]), delimiter=delimiter), [])
    names: list[str] = []
    for index, name in enumerate(fields):
        name = name.strip() or f"_c{index}"
        while name.lower() in {n.lower() for n in names}:
            name = f"{name}_{index}"
        names.append(name)
    return names


def whole_file(path: Path, reason: str, skip_header: bool) -> list[Rejected]:
    """Every non-blank line of a file refused as a whole (e.g. a header of another shape)."""
    lines = file_lines(path)
    start = 1 if skip_header else 0
    return [Rejected(str(path), n + 1, text, reason) for n, text in enumerate(lines) if n >= start and text.strip()]


def spark_paths(paths: Sequence[Path]) -> list[str]:
    """Paths as Spark must be given them to read exactly those files: Spark expands glob patterns,
    so `a[1].csv` would match nothing and `b*.csv` every `b…` file; a backslash escapes them."""
    return [_GLOB.sub(r"\\\1", str(p)) for p in paths]


def source_file() -> Any:
    """The file a row was read from as a plain absolute path (Spark reports a `file:` URI with
    %-escapes): the same form as the quarantine's `file`, the manifest and the landing folder."""
    from pyspark.sql import functions as F

    uri = F.col("_metadata.file_path")
    path = F.when(uri.startswith("file:///"), uri.substr(8, 1 << 30)).when(uri.startswith("file:/"), uri.substr(6, 1 << 30)).otherwise(uri)
    # url_decode is form decoding ('+' means a space); in a URI path '+' is itself.
    return F.when(path.contains("%"), F.url_decode(F.replace(path, F.lit("+"), F.lit("%2B")))).otherwise(path)


def _strip_cr(column: str) -> Any:
    """A CRLF line read with `lineSep="\\n"` keeps its \\r at the end of the last field: drop it
    (an unquoted field left empty is null, as Spark reads an empty field)."""
    from pyspark.sql import functions as F

    value = F.col(column)
    return F.when(value.endswith("\r"), F.nullif(F.expr(f"left(`{column}`, length(`{column}`) - 1)"), F.lit(""))).otherwise(value)


def read_csv(spark: SparkSession, groups: dict[tuple, list[Path]], delimiter: str) -> DataFrame | None:
    """One Spark read per distinct (header, line separator); fields mapped by the header's names.

    Line endings: Spark's multi-line CSV reader (needed for quoted line breaks) detects the line
    separator from the first line and then ignores the other kinds, so a CRLF file with LF lines
    appended merged them. Every file is read with `lineSep="\\n"` (a lone \\r for old Mac files,
    whose first line ends so) and a trailing \\r is dropped from each line's last field: each line is
    one record whatever its ending."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    frames = []
    for (header, line_sep, header_cr), paths in groups.items():
        slots = [f"_c{i}" for i in range(len(header))]
        corrupt = CORRUPT
        while corrupt.lower() in {h.lower() for h in header}:
            corrupt = f"_{corrupt}"
        # Named as Spark will read the header (so its header check stays quiet), then renamed by position.
        seen = [*header[:-1], header[-1] + "\r"] if header_cr and header else list(header)
        schema = StructType([StructField(s, StringType(), True) for s in [*seen, corrupt]])
        options = dict(header="true", multiLine="true", mode="PERMISSIVE", columnNameOfCorruptRecord=corrupt, sep=delimiter, escape='"', enforceSchema="true")
        df = spark.read.schema(schema).options(lineSep=line_sep, **options).csv(spark_paths(paths)).toDF(*slots, CORRUPT)
        if line_sep == "\n":  # a blank CRLF line reads as "\r": still a blank line, skipped as Spark skips blank lines
            blank = _all([F.coalesce(F.col(slots[0]), F.lit("")) == "\r", *[F.col(s).isNull() for s in slots[1:]]])
            df = df.filter(~blank)
            df = df.select(*[_strip_cr(c).alias(c) if c in (slots[-1], CORRUPT) else F.col(c) for c in [*slots, CORRUPT]], "_metadata")
        record = F.create_map(*[x for name, slot in zip(header, slots, strict=False) for x in (F.lit(name), F.col(slot))])
        raw = F.coalesce(F.col(CORRUPT), F.concat_ws(delimiter, *[F.coalesce(F.col(s), F.lit("")) for s in slots]))
        # Field by field: no per-row concatenation just to look for a replacement character.
        wrong = F.col(CORRUPT).isNull() & _any([F.col(s).contains(REPLACEMENT) for s in slots])
        bad = F.when(F.col(CORRUPT).isNotNull(), F.lit(f"malformed CSV record (expected {len(header)} fields)")).when(wrong, F.lit(WRONG_ENCODING))
        frames.append(_frame(df.select(record.alias("_record"), source_file().alias("_source_file"), raw.alias("_raw"), bad.alias("_bad"))))
    return _union(frames)


def read_json(spark: SparkSession, paths: Sequence[Path]) -> DataFrame | None:
    """JSON lines: each non-blank line must be exactly one JSON object (nothing after it), its
    strings at most MAX_JSON_STRING_CHARS characters long.

    Spark's JSON parser stops after the first value of a line and ignores what follows, so a
    line is parsed inside an array ending with a marker object only this read knows: the
    array holds [the object, the marker] exactly when nothing followed the object. One parse
    per line; the reasons of refused lines are worked out for those lines only."""
    from pyspark.sql import functions as F

    if not paths:
        return None
    limit = {"maxStringLen": str(MAX_JSON_STRING_CHARS)}
    marker = uuid.uuid4().hex
    text = spark.read.text(spark_paths(paths)).select("value", source_file().alias("_source_file"))
    text = text.filter(F.trim("value") != "")
    wrapped = F.concat(F.lit("["), F.col("value"), F.lit(f',{{"{marker}":"{marker}"}}]'))
    parts = text.select("value", "_source_file", F.from_json(wrapped, "array<map<string,string>>", limit).alias("_parts"))
    whole = (F.size("_parts") == 2) & (F.col("_parts")[1][marker] == marker)
    record = F.when(whole, F.col("_parts")[0])
    over = F.length("value") > MAX_JSON_STRING_CHARS
    why = (
        F.when(F.from_json("value", "map<string,string>", limit).isNotNull(), F.lit(TEXT_AFTER))
        .when(over & F.from_json("value", "map<string,string>", {"maxStringLen": str(2**31 - 1)}).isNotNull(), F.lit(OVER_LIMIT.format(MAX_JSON_STRING_CHARS)))
        .otherwise(F.lit(NOT_OBJECT))
    )  # fmt: skip
    # The text reader keeps a line's bytes as they are (no decoding, no replacement character).
    bad = F.when(record.isNull(), why).when(~F.is_valid_utf8("value"), F.lit(WRONG_ENCODING))
    return _frame(parts.select(record.alias("_record"), "_source_file", F.col("value").alias("_raw"), bad.alias("_bad")))


def _union(frames: list[DataFrame]) -> DataFrame | None:
    if not frames:
        return None
    out = frames[0]
    for frame in frames[1:]:
        out = out.unionByName(frame)
    return out


def read_batch(spark: SparkSession, files: Sequence[Path], fmt: str, delimiter: str, known: Sequence[str]) -> Parsed:
    """Parse `files`; whole-file rejections come back in Python, record-level ones in `_bad`."""
    rejected: list[Rejected] = []
    readable = []
    for path in files:
        problem = precheck(path)
        if problem:
            rejected.append(problem)
        else:
            readable.append(path)
    from lakehouse_jobs.lib.runtime import sail

    if fmt == "json" and sail.is_sail(spark):  # Sail's from_json reads JSON otherwise: parsed as the JVM parses it
        from lakehouse_jobs.lib.ingest.json_lines import read_json_arrow

        frame, refused = read_json_arrow(spark, readable)
        return Parsed(frame, [*rejected, *refused], files=readable, complete=True)
    if fmt == "json":
        return Parsed(read_json(spark, readable), rejected, files=readable)
    groups: dict[tuple, list[Path]] = {}
    headers = {}
    for path in readable:
        header = csv_header(path, delimiter)
        ending = first_line(path)[1]
        if known and not set(header) & set(known):
            reason = f"header {header[:5]} shares no column with the table (wrong delimiter, or not this source?)"
            rejected.extend(whole_file(path, reason, skip_header=True) or [Rejected(str(path), 1, ",".join(header), reason)])
            continue
        headers[str(path)] = header
        groups.setdefault((tuple(header), "\r" if ending == "\r" else "\n", ending == "\r\n"), []).append(path)
    paths = [p for group in groups.values() for p in group]
    if sail.is_sail(spark):  # Sail's CSV reader fails on a malformed record: parsed by pyarrow
        from lakehouse_jobs.lib.ingest.read_arrow import read_csv_arrow

        frame, refused = read_csv_arrow(spark, headers, paths, delimiter)
        return Parsed(frame, [*rejected, *refused], headers, paths, complete=True)
    return Parsed(read_csv(spark, groups, delimiter), rejected, headers, paths)


def _any(conditions: list):  # a Column
    from pyspark.sql import functions as F

    out = F.lit(False)
    for condition in conditions:
        out = out | condition
    return out


def _all(conditions: list):  # a Column
    from pyspark.sql import functions as F

    out = F.lit(True)
    for condition in conditions:
        out = out & condition
    return out


def _frame(df: DataFrame) -> DataFrame:
    """Only refused records need their raw text: loadable rows carry none."""
    from pyspark.sql import functions as F

    return df.withColumn("_raw", F.when(F.col("_bad").isNotNull(), F.col("_raw")))
