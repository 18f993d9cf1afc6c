"""JSON lines parsed in Python (Sail's reader) against the JVM's `from_json` reader, line by line.

The comparisons run in the JVM pass (the JVM's reader is the reference): a corpus of the lines
where readers part (Jackson's extensions and limits, escapes, numbers, nesting, blank and
not-quite-blank lines, bytes that are not UTF-8) and generated objects written in Jackson's
dialects go through `read.read_json` and through `json_lines.parse_file`: the same records (each
field's text), the same refused lines with the same reasons. `java_double` is checked on both.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakehouse_jobs.lib.ingest.json_lines import MAX_DEPTH, java_double, parse_file
from lakehouse_jobs.lib.ingest.lines import file_lines
from lakehouse_jobs.lib.ingest.read import read_json
from lakehouse_jobs_tests.engines import ON_SAIL

JVM_REFERENCE = pytest.mark.skipif(ON_SAIL, reason="the JVM's reader is the reference: compared in the JVM pass")

# Java's Double.toString (Java 19 and later; 1e23 is 9.999999999999999E22 on Java 17, JDK-4511638).
JAVA = [
    (1.1, "1.1"), (100.0, "100.0"), (1e20, "1.0E20"), (1e-5, "1.0E-5"), (0.001, "0.001"), (9.9e-4, "9.9E-4"), (1234567.0, "1234567.0"),
    (12345678.9, "1.23456789E7"), (1e7, "1.0E7"), (5e-324, "4.9E-324"), (1.7976931348623157e308, "1.7976931348623157E308"),
    (-0.0, "-0.0"), (0.0, "0.0"), (1e23, "1.0E23"), (2.5e-7, "2.5E-7"), (123456789012345680000.0, "1.2345678901234568E20"),
    (-1.5e-10, "-1.5E-10"), (math.inf, '"Infinity"'), (-math.inf, '"-Infinity"'), (math.nan, '"NaN"'),
]  # fmt: skip

CORPUS = [
    '{"a": 1, "b": 1.10, "c": 1e2, "d": 1E20, "e": 1e-5, "f": 123456789012345678901234567890, "g": -0.0, "h": 0.001}',
    '{"a": NaN, "b": Infinity, "c": -Infinity, "d": +INF, "e": -INF, "f": +Infinity}',
    '{"a": INF}', '{"a": -NaN}', '{"a": +NaN}', '{"a": +1}', '{"a": .5}', '{"a": 1.}', '{"a": 01}', '{"a": -01}', '{"a": 1e}',
    "{'a': 'x', \"b\": 'y\"z'}", "{'a': 'it\\'s'}", '{"a": "it\\\'s"}', "{'a\"b': 1}", '{"a": \'\'}', "{'a': 1, 'a': 2}",
    '{"a": true, "b": false, "c": null, "d": {"x": [1, 2.50, "s", null, {"y": "é\\u00e9\\n\\t/\\/"}]}, "e": []}',
    '{"a": "x", "a": "y"}', '{"a": {"k": 1, "k": 2}}', '{"a": {"b": [1, {"c": null}], "b": 2}}',
    '{"a": "\\u0001\\u001f\\u007f"}', '{"a": {"b": "\\u0001\\u0008\\u000c\\u001f\\"\\\\/\\u2028"}}', '{"a": "\\x41"}',
    '{"a": "\\ud800", "b": {"c": "\\ud800x"}}', '{"\\ud800": 1, "k": "\\ud83d\\ude00"}', '{"b": {"c": "\U0001f600\u2028"}}',
    '{"a": {"b": "\\t\\n\\r\\u0000\\u007f\\u0080"}}', '{"k\\u0000": 1}', '{"a": "tab\there"}',
    '[1,2]', '"str"', '{}', '{"":1}', '{"a": 1,}', '{a: 1}', '{"a": /* c */ 1}', '{"a": 1} // c',
    '{"a": 1} ', '  {"a": 1}', '{"a": 1}\t', '{"a":1}\x0b', '{"a": 1} {"b": 2}', '{"a": 1}, 7', '{"a": 1}}', '{"a": 1}]',
    '\t', ' \t ', '\x0b', '\x0c', '\x1f', '\x7f', '\u00a0', '\u3000', '\x00', '\ufeff{"bom": 1}',
    '{"a": 9223372036854775807, "b": 9223372036854775808, "c": -9223372036854775809, "d": 2147483648}',
    '{"a": {"b": NaN, "c": 1e2, "d": 12345678901234567890123}}', '{"a": [NaN, 1e400, -1e400]}', '{"a": {"b": 1e400}}',
    '{"a": 5e-324, "b": 1.7976931348623157E308, "c": 1e400, "d": 0.1e1, "e": 100e-2, "f": 1e-400, "g": -1e-400}',
    '{"a": 1.0E+2, "b": 1.5e+300, "c": -1.0, "d": -0, "e": 0.000123, "f": 12345678.0, "g": 1234567.8, "h": 123.456e10}',
    '{"a": [1.0, 2.5e-7, 1e21, 123456789012345680000.0, 9999999.0, 0.00099, 1E-3, 1e7]}',
    '{"a": ' + "1" * 1000 + "}", '{"a": ' + "1" * 1001 + "}", '{"a": -' + "1" * 1000 + "}", '{"a": -' + "1" * 1001 + "}",
    '{"a": 1.' + "1" * 998 + "}", '{"a": 1.' + "1" * 1000 + "}", '{"a": 1e' + "0" * 998 + "1}",
    '{"' + "k" * 50000 + '": 1}', '{"' + "k" * 50001 + '": 1}', '{"a": {"' + "k" * 50001 + '": 1}}',
    *('{"a": ' + "[" * n + "]" * n + "}" for n in (97, 150, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH)),
    '{"a": "' + "[" * 2000 + '"}', '{"a": 1, "b": {"c": \'x\'}, "d": "it\\\'s"} x',
]  # fmt: skip


def _jvm_and_python(spark, data: bytes) -> tuple[list, list]:
    """Each non-blank line's (record or None, reason or None), by the JVM's reader and by `parse_file`."""
    folder = Path(tempfile.mkdtemp(prefix="json_parity_"))
    try:
        path = folder / "f.jsonl"
        path.write_bytes(data)
        rows = read_json(spark, [path]).select("_record", "_bad").collect()
        jvm = [(None, r["_bad"]) if r["_bad"] else (dict(r["_record"]), None) for r in rows]
        records, refused = parse_file(path)
        reasons = {r.line: r.reason for r in refused}
        loaded = iter(records)
        lines = [n for n, text in enumerate(file_lines(path), start=1) if text.strip(" ")]
        python = [(None, reasons[n]) if n in reasons else (next(loaded), None) for n in lines]
        assert next(loaded, None) is None and len(reasons) == len(python) - len(records)
        return jvm, python
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize(("value", "java"), JAVA, ids=[repr(v) for v, _ in JAVA])
def test_java_double_prints_doubles_as_java_does(value: float, java: str):
    assert java_double(value) == java


@JVM_REFERENCE
def test_edge_lines_are_read_as_the_jvm_reads_them(spark):
    data = ("\n".join(CORPUS) + "\n").encode("utf-8") + b'{"x": "\xe9"}\r\n{"x": 1}\r{"y": 2}\n'
    jvm, python = _jvm_and_python(spark, data)
    assert len(jvm) == len(python)
    for line, (expected, actual) in enumerate(zip(jvm, python, strict=True)):
        assert actual == expected, (line, CORPUS[line][:200] if line < len(CORPUS) else "")


@JVM_REFERENCE
def test_java_17s_longer_doubles_are_the_one_difference(spark):
    """Java 17 prints 1e23 as 9.999999999999999E22 (Java 19 and Sail's reader: 1.0E23): the same double."""
    ((jvm, _),), ((python, _),) = _jvm_and_python(spark, b'{"a": 1e23, "b": {"c": 1e23}}\n')
    assert float(jvm["a"]) == float(python["a"]) == 1e23 and python == {"a": "1.0E23", "b": '{"c":1.0E23}'}
    assert jvm["a"] in ("9.999999999999999E22", "1.0E23") and jvm["b"] == '{"c":' + jvm["a"] + "}"


NUMBERS = st.sampled_from(["0", "-0", "7", "-12", "1.5", "-0.0", "1e2", "1E-7", "2.5e+10", "0.001", "123456.789", "1e400", "-1e-400", "NaN", "-Infinity"])
BIG = st.integers(min_value=-(10**40), max_value=10**40).map(str)
TEXT = st.text(alphabet=st.sampled_from(["a", "é", " ", '"', "'", "\\", "/", "\n", "\t", "\x01", "\u2028", "\U0001f600", "{", "]"]), max_size=6)
NAMES = st.sampled_from(["id", "name", "v", "a b", "ü", ""])
SCALAR = st.one_of(NUMBERS, BIG, TEXT.map(json.dumps), st.sampled_from(["true", "false", "null"]))


@st.composite
def json_value(draw, depth: int = 0) -> str:
    kind = draw(st.integers(0, 5 if depth < 2 else 3))
    if kind <= 3:
        return draw(SCALAR)
    items = draw(st.lists(st.deferred(lambda: json_value(depth + 1)), max_size=3))
    if kind == 4:
        return "[" + ", ".join(items) + "]"
    return "{" + ", ".join(f"{json.dumps(draw(NAMES))}: {item}" for item in items) + "}"


@st.composite
def json_line(draw) -> str:
    fields = draw(st.lists(st.tuples(NAMES, json_value()), max_size=4))
    line = "{" + ", ".join(f"{json.dumps(name)}: {value}" for name, value in fields) + "}"
    if draw(st.integers(0, 3)) == 0:  # Jackson's dialect: single quotes where a string holds none
        line = line.replace('"', "'") if "'" not in line and "\\" not in line else line
    return draw(st.sampled_from(["", " ", "  "])) + line + draw(st.sampled_from(["", " ", "\t", " x", ", 1", "}"]))


@JVM_REFERENCE
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(lines=st.lists(st.one_of(json_line(), json_line(), st.just(""), st.just("not json")), min_size=1, max_size=8))
def test_generated_lines_are_read_as_the_jvm_reads_them(spark, lines: list[str]):
    jvm, python = _jvm_and_python(spark, ("\n".join(lines) + "\n").encode("utf-8"))
    assert python == jvm, lines
