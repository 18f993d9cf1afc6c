"""CSV landing files parsed by pyarrow, for an engine whose CSV reader cannot keep refused records (Sail).

Sail's CSV reader fails the whole read at the first record with a wrong number of fields
(pysail 0.7.2: "incorrect number of fields for line 4"), and it has no `_metadata.file_path`.
The JVM reads in PERMISSIVE mode; this module gives the same records the same way: pyarrow's
C++ parser (quoted line breaks, `""` inside quotes, a record with too many or too few fields
handed to `invalid_row_handler` and refused as "malformed"), an empty field null quoted or
not, blank lines skipped, each line ending (\\r\\n, \\n, a lone \\r) closing a record, bytes that
are not UTF-8 decoded to U+FFFD and the record refused as "wrong encoding". Each file is
parsed on its own, so its rows carry its path. The result is the same frame as `read.read_csv`
(`_record` map, `_source_file`, `_raw`, `_bad`), holding loadable rows only: every refused
record is already in Python, with its line number, before anything is written. A file is read
whole into memory (the JVM streams it): fine for landing files of hundreds of MB.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.ingest.lines import LINE_BREAKS, REPLACEMENT, WRONG_ENCODING, number_lines, open_file
from lakehouse_jobs.lib.tables.quarantine import RAW_LIMIT, Rejected

if TYPE_CHECKING:
    import pyarrow as pa


def _utf8(path: Path) -> bytes:
    """The file's bytes as UTF-8: undecodable bytes become U+FFFD, as the JVM's reader decodes them."""
    with open_file(path) as handle:
        data = handle.read()
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode("utf-8")


def unescaped_quote(data: bytes, delimiter: str) -> int | None:
    """The line (1-based) of the first quoted field followed by other text (`"x"y`, `"x" `), or None.

    The JVM's reader (Univocity, `unescapedQuoteHandling=STOP_AT_DELIMITER`) keeps such a field's raw
    text (`"x"y`) or drops the blanks after its quote (`x`); pyarrow reads `xy` and `x `. A cheap
    byte scan first (a quote between two other characters), the exact pattern only where it hits."""
    if b'"' not in data:
        return None
    d = re.escape(delimiter.encode())
    if not re.search(rb"[^" + d + rb'\r\n"]"[^' + d + rb'\r\n"]', data):
        return None
    match = re.search(rb"(?:^|(?<=[" + d + rb'\n\r]))"(?:[^"]|"")*"(?=[^' + d + rb'\r\n"])', data)
    if match is None:
        return None
    return len(LINE_BREAKS.split(data[: match.start()].decode("utf-8", "replace")))


def parse_file(path: Path, header: Sequence[str], delimiter: str) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    """One file's loadable records (a column per header field, all strings) and its refused ones (path, raw, reason).

    A file with an unescaped quote (`unescaped_quote`) is refused whole, line by line, with that reason:
    the engines read it differently, and a difference in results is never silent."""
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv

    refused: list[tuple[str, str, str]] = []
    data = _utf8(path)
    slots = [f"_c{i}" for i in range(len(header))]
    line = unescaped_quote(data, delimiter)
    if line is not None:
        reason = (
            f"a quoted field followed by other text at line {line} (an unescaped quote), which Sail's reader and the JVM's read "
            "differently: the file is refused on Sail; fix its quoting or ingest it on the JVM engine (LAKEHOUSE_ENGINE=spark)"
        )
        lines = LINE_BREAKS.split(data.decode("utf-8"))
        refused = [(str(path), text[:RAW_LIMIT], reason) for text in lines[1:] if text.strip()]
        return pa.table({s: pa.array([], pa.string()) for s in slots}), refused
    malformed = f"malformed CSV record (expected {len(header)} fields)"

    def invalid(row: Any) -> str:
        refused.append((str(path), (row.text or "")[:RAW_LIMIT], malformed))
        return "skip"

    table = csv.read_csv(
        pa.BufferReader(data),
        read_options=csv.ReadOptions(column_names=slots, skip_rows=1, block_size=16 << 20),
        parse_options=csv.ParseOptions(
            delimiter=delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
            invalid_row_handler=invalid,
        ),
        convert_options=csv.ConvertOptions(
            column_types={s: pa.string() for s in slots}, null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )
    if table.num_rows:
        wrong = None
        for slot in slots:
            hit = pc.fill_null(pc.match_substring(table.column(slot), REPLACEMENT), False)
            wrong = hit if wrong is None else pc.or_(wrong, hit)
        if wrong is not None and pc.any(wrong).as_py():
            for row in table.filter(wrong).to_pylist():
                refused.append((str(path), delimiter.join(row[s] or "" for s in slots)[:RAW_LIMIT], WRONG_ENCODING))
            table = table.filter(pc.invert(wrong))
    return table, refused


def as_records(table: pa.Table, header: Sequence[str], source: str) -> pa.Table:
    """A file's parsed columns as the frame `read.read_csv` makes: `_record` (field -> text), `_source_file`, `_raw`, `_bad`."""
    import numpy as np
    import pyarrow as pa

    rows, width = table.num_rows, len(header)
    values = pa.concat_arrays([table.column(i).combine_chunks() for i in range(width)]) if width else pa.array([], pa.string())
    order = (np.arange(width)[None, :] * rows + np.arange(rows)[:, None]).ravel()  # row by row, field by field
    offsets = pa.array(np.arange(0, rows * width + 1, width if width else 1)[: rows + 1], pa.int32())
    keys = pa.array(list(header), pa.string()).take(pa.array(np.tile(np.arange(width), rows), pa.int64()))
    record = pa.MapArray.from_arrays(offsets, keys, values.take(pa.array(order, pa.int64())))
    empty = pa.nulls(rows, pa.string())
    return pa.table({"_record": record, "_source_file": pa.repeat(pa.scalar(source, pa.string()), rows), "_raw": empty, "_bad": empty})


def read_csv_arrow(spark: Any, headers: dict[str, list[str]], paths: Sequence[Path], delimiter: str) -> tuple[Any, list[Rejected]]:
    """The loadable records of `paths` as a Spark frame (staged as Parquet) and every refused record, numbered."""
    import pyarrow as pa

    from lakehouse_jobs.lib.tables.staging import stage_arrow

    tables, refused = [], []
    for path in paths:
        header = headers[str(path)]
        table, bad = parse_file(path, header, delimiter)
        tables.append(as_records(table, header, str(path)))
        refused.extend(bad)
    if not tables:
        return None, []
    return stage_arrow(spark, pa.concat_tables(tables)), number_lines(refused, Path)
