"""JSON lines parsed in Python the way the JVM's reader parses them, for an engine without it (Sail).

On the JVM each line goes through Spark's `from_json` into a `map<string,string>` (Jackson with
Spark's options); Sail's `from_json` refuses single quotes and NaN and rounds integers beyond 64
bits (docs/engines.md). This module gives the same records and refusals, measured against the
JVM line by line (lakehouse_jobs_tests/ingest/test_json_lines.py):
- accepted as Jackson does: single-quoted names and strings, `\\'` in any string, NaN, Infinity,
  `+Infinity`, `+INF`, `-INF`; refused: comments, unquoted names, leading zeros, `INF`, `+NaN`,
  raw control characters in strings, numbers over 1,000 digits, names over 50,000 characters,
  objects nested deeper than 1,000 levels, a line that is not one object (only spaces count as blank);
- a field's text: a string as decoded (a lone surrogate becomes `?`), null as null, anything else
  as Jackson's generator copies it: integers exact, floats as Java's `Double.toString` (`1.1`,
  `100.0`, `1.0E20`, `9.9E-4`; overflow `"Infinity"`, NaN `"NaN"`, quoted), objects and arrays as
  compact JSON with Jackson's escapes (`\\u001F`, characters beyond U+FFFF as surrogate escapes),
  duplicate names kept inside them; at the top level the last duplicate wins.
Python's `json` parses a standard line (its C scanner alone; a line long enough to hold a number
Jackson refuses keeps every number's text through hooks); a line it refuses is rewritten from
Jackson's extensions to standard JSON and parsed once more. ~8 µs a line of six fields.
One difference stays: Java 17's `Double.toString` prints some doubles with more digits than
needed (1e23 as `9.999999999999999E22`; fixed in Java 19, JDK-4511638); this module prints
the shortest form, as the JVM does on Java 19 and later.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from itertools import accumulate, chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakehouse_jobs.lib.ingest.lines import LINE_BREAKS, WRONG_ENCODING, open_file
from lakehouse_jobs.lib.tables.quarantine import RAW_LIMIT, Rejected

if TYPE_CHECKING:
    import pyarrow as pa

MAX_JSON_STRING_CHARS = 64 << 20  # Jackson's default (20,000,000) refused a 25 MB string as "not a JSON object"
OVER_LIMIT = "JSON record with a string value over the limit of {:,} characters (MAX_JSON_STRING_CHARS)"
NOT_OBJECT = "malformed JSON record (not a JSON object)"
TEXT_AFTER = "malformed JSON record (text after the JSON object)"
MAX_NAME_CHARS = 50_000  # Jackson's maxNameLength
MAX_NUMBER_DIGITS = 1_000  # Jackson's maxNumberLength
MAX_DEPTH = 1_000  # Jackson's maxNestingDepth

_SPACE = re.compile(r"[ \t\r\n]*")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile('[\x00-\x1f"\\\\\ud800-\udfff\U00010000-\U0010ffff]')
_SHORT = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
# Jackson's extensions, token by token: strings in either quote, signed infinities; the rest as is.
_EXTENSIONS = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\+Infinity\b|[+-]INF\b|[^"'+-]+|.""", re.S)
_CONSTANTS = {"NaN": '"NaN"', "Infinity": '"Infinity"', "-Infinity": '"-Infinity"'}


class _Number(str):
    """A number's text as Jackson's generator writes it (the exact decoder's; the fast one gives int and float)."""


class _Refused(ValueError):
    """A line Jackson refuses although Python's parser takes it (a limit)."""


def java_double(value: float) -> str:
    """`Double.toString` (Java 19+): the shortest decimal that reads back as `value` (two digits
    when one would do, the closer of them), plain from 10^-3 up to 10^7, else `d.dddE±n`."""
    if 1e-3 <= abs(value) < 1e7:  # Python's repr is the same there (plain, shortest; normal doubles need no 2nd digit)
        return repr(value)
    if math.isnan(value) or math.isinf(value):
        return _CONSTANTS["NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"]
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign = "-" if value < 0 else ""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    text = "".join(map(str, digits)).rstrip("0")
    exponent += len(digits) - len(text)  # value = int(text) * 10**exponent
    if len(text) == 1:  # Java picks among one- and two-digit decimals the closest
        mantissa, _, power = format(abs(value), ".1e").partition("e")
        two = mantissa.replace(".", "")
        text, exponent = two.rstrip("0"), int(power) - 1 + len(two) - len(two.rstrip("0"))
    point = len(text) + exponent  # value = 0.<text> * 10**point
    if 0 < point <= 7:
        whole, fraction = text[:point].ljust(point, "0"), text[point:]
        return f"{sign}{whole}.{fraction or '0'}"
    if -3 < point <= 0:
        return f"{sign}0.{'0' * -point}{text}"
    return f"{sign}{text[0]}.{text[1:] or '0'}E{point - 1}"


def _int(text: str) -> _Number:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(text)
    return _Number(int(text))


def _float(text: str) -> _Number:
    mantissa = re.split("[eE]", text.lstrip("-"), maxsplit=1)[0]
    if len(mantissa) - 1 > MAX_NUMBER_DIGITS:
        raise _Refused(text)
    return _Number(java_double(float(text)))


# Objects are tuples of (name, value) pairs: in order, duplicates kept. A line shorter than a number Jackson refuses
# is decoded by the C scanner alone (ints and floats as Python's); a longer one keeps each number's text to check it.
_FAST = json.JSONDecoder(object_pairs_hook=tuple)
_EXACT = json.JSONDecoder(object_pairs_hook=tuple, parse_float=_float, parse_int=_int, parse_constant=lambda name: _Number(_CONSTANTS[name]))


def _escape(text: str) -> str:
    def one(match: re.Match) -> str:
        char = match.group()
        if char in _SHORT:
            return _SHORT[char]
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            return f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}"
        return f"\\u{code:04X}"

    return '"' + _ESCAPED.sub(one, text) + '"'


def _json(value: Any) -> str:
    """A nested value as Jackson's generator copies it: compact, its escapes, numbers as read."""
    kind = type(value)
    if kind is str:
        return _escape(value)
    if kind is tuple:
        return "{" + ",".join(f"{_escape(name)}:{_json(item)}" for name, item in value) + "}"
    if kind is list:
        return "[" + ",".join(_json(item) for item in value) + "]"
    return _scalar(value, kind) or "null"


def _scalar(value: Any, kind: type) -> str | None:
    """A number's or boolean's text (None for null)."""
    if kind is float:
        return java_double(value)
    if kind is bool:
        return "true" if value else "false"
    return None if value is None else str(value)  # int, _Number


def field_text(value: Any) -> str | None:
    """A top-level field's value as the JVM's `map<string,string>` holds it (a lone surrogate in a string
    becomes `?` in `_record`: only an escape can make one)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is tuple or kind is list:
        return _json(value)
    return _scalar(value, kind)


def _standard(line: str) -> str:
    """Jackson's extensions rewritten as standard JSON: 'x' -> "x", \\' -> ', +Infinity/+INF -> Infinity, -INF -> -Infinity."""

    def token(match: re.Match) -> str:
        text = match.group()
        if text[0] == '"':
            return re.sub(r"\\(.)", lambda m: "'" if m.group(1) == "'" else m.group(), text, flags=re.S)
        if text[0] == "'":
            inner = re.sub(r"""\\(.)|(")""", lambda m: '\\"' if m.group(2) else "'" if m.group(1) == "'" else m.group(), text[1:-1], flags=re.S)
            return f'"{inner}"'
        if text in ("+Infinity", "+INF"):
            return "Infinity"
        return "-Infinity" if text == "-INF" else text

    return _EXTENSIONS.sub(token, line)


def _depth(line: str) -> int:
    """How deep the line's objects and arrays nest (strings skipped)."""
    deepest = depth = 0
    for char in re.sub(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", "", line):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _decode(line: str) -> tuple[Any, str]:
    """The first value of the line and the text after it (ValueError when there is none)."""
    decoder = _EXACT if len(line) > MAX_NUMBER_DIGITS else _FAST
    start = _SPACE.match(line).end()
    try:
        value, end = decoder.raw_decode(line, start)
    except _Refused:
        raise
    except ValueError:
        line = _standard(line)
        value, end = decoder.raw_decode(line, start)
    return value, line[end:]


def _long_strings(value: Any, limit: int, names: bool) -> bool:
    """Whether a string (or, with `names`, an object's name) inside `value` is longer than `limit`."""
    if type(value) is tuple:
        return any((names and len(name) > limit) or _long_strings(item, limit, names) for name, item in value)
    if type(value) is list:
        return any(_long_strings(item, limit, names) for item in value)
    return not names and type(value) is str and len(value) > limit


def parse_line(line: str) -> tuple[dict[str, str | None] | None, str | None]:
    """A non-blank line's record (field -> text) or why it is refused."""
    if line.count("{") + line.count("[") < 100:
        return _record(line)
    depth = _depth(line)
    if depth > MAX_DEPTH:
        return None, NOT_OBJECT
    if depth == MAX_DEPTH:  # the JVM parses the line once more inside an array, one level deeper
        return None, TEXT_AFTER
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * MAX_DEPTH))  # the C scanner and the copy recurse per level
    try:
        return _record(line)
    finally:
        sys.setrecursionlimit(limit)


def _record(line: str) -> tuple[dict[str, str | None] | None, str | None]:
    try:
        value, rest = _decode(line)
    except ValueError:
        return None, NOT_OBJECT
    if type(value) is not tuple:
        return None, NOT_OBJECT
    if len(line) > MAX_NAME_CHARS and _long_strings(value, MAX_NAME_CHARS, names=True):
        return None, NOT_OBJECT
    if _SPACE.fullmatch(rest) is None:
        return None, TEXT_AFTER
    if len(line) > MAX_JSON_STRING_CHARS and _long_strings(value, MAX_JSON_STRING_CHARS, names=False):
        return None, OVER_LIMIT.format(MAX_JSON_STRING_CHARS)
    if "\\u" not in line:  # no escape, no lone surrogate
        return {name: item if type(item) is str else field_text(item) for name, item in value}, None
    return {_SURROGATE.sub("?", name): _SURROGATE.sub("?", text) if type(text) is str else text for name, text in _texts(value)}, None


def _texts(pairs: tuple) -> Any:
    for name, item in pairs:
        yield name, field_text(item)


def _lines(path: Path) -> list[tuple[str, bool]]:
    """The file's lines split as Hadoop splits them, each with whether it is valid UTF-8."""
    with open_file(path) as handle:
        data = handle.read()
    try:
        return [(line, True) for line in LINE_BREAKS.split(data.decode("utf-8"))]
    except UnicodeDecodeError:
        out = []
        for raw in re.split(rb"\r\n|\r|\n", data):
            try:
                out.append((raw.decode("utf-8"), True))
            except UnicodeDecodeError:
                out.append((raw.decode("utf-8", "replace"), False))
        return out


def parse_file(path: Path) -> tuple[list[dict[str, str | None]], list[Rejected]]:
    """One file's loadable records and its refused lines (numbered), as the JVM's reader sorts them."""
    records, refused = [], []
    for number, (line, valid) in enumerate(_lines(path), start=1):
        if not line.strip(" "):  # Spark's trim removes spaces only
            continue
        record, reason = parse_line(line)
        if record is not None and not valid:
            reason = WRONG_ENCODING
        if reason is None:
            records.append(record)
        else:
            refused.append(Rejected(str(path), number, line[:RAW_LIMIT], reason))
    return records, refused


def as_records(records: list[dict[str, str | None]], source: str) -> pa.Table:
    """A file's records as the frame `read.read_json` makes: `_record` (field -> text), `_source_file`, `_raw`, `_bad`."""
    import pyarrow as pa

    keys = pa.array(list(chain.from_iterable(records)), pa.string())
    values = pa.array(list(chain.from_iterable(r.values() for r in records)), pa.string())
    offsets = pa.array([0, *accumulate(map(len, records))], pa.int32())
    rows = len(records)
    record = pa.MapArray.from_arrays(offsets, keys, values)
    empty = pa.nulls(rows, pa.string())
    return pa.table({"_record": record, "_source_file": pa.repeat(pa.scalar(source, pa.string()), rows), "_raw": empty, "_bad": empty})


def read_json_arrow(spark: Any, paths: Sequence[Path]) -> tuple[Any, list[Rejected]]:
    """The loadable records of `paths` as a Spark frame (staged as Parquet) and every refused record, numbered."""
    import pyarrow as pa

    from lakehouse_jobs.lib.tables.staging import stage_arrow

    tables, refused = [], []
    for path in paths:
        records, bad = parse_file(path)
        tables.append(as_records(records, str(path)))
        refused.extend(bad)
    if not tables:
        return None, []
    return stage_arrow(spark, pa.concat_tables(tables)), refused
