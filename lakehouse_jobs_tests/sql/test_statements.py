"""The statement splitter and parameter binder (no Spark)."""

from __future__ import annotations

from lakehouse_jobs.lib.sql.statements import bind, inline_markers, markers, split_statements

SCRIPT = """-- header; with a semicolon
CREATE TABLE t (a INT); /* c; /* nested; */ still; */
INSERT INTO t VALUES (1), (2);

SELECT 'a;b', "c;d", `e;f`, ':x' FROM t WHERE a = :a AND b::int = 1 AND c = '{{v}}' ;
create function f() returns int language python as $$ return 1; $$;
lbl: BEGIN
  DECLARE x INT;
  IF x = 1 THEN SET x = 2; END IF;
  SET x = CASE WHEN x > 1 THEN 1 ELSE 2 END;
END lbl;
select begin from t;
select 2
-- trailing comment;
"""


def test_split_keeps_text_as_written_and_numbers_lines():
    found = [(s.number, s.line, s.text.splitlines()[0]) for s in split_statements(SCRIPT)]
    assert found == [
        (1, 2, "-- header; with a semicolon"),
        (2, 3, "/* c; /* nested; */ still; */"),
        (3, 5, "SELECT 'a;b', \"c;d\", `e;f`, ':x' FROM t WHERE a = :a AND b::int = 1 AND c = '{{v}}'"),
        (4, 6, "create function f() returns int language python as $$ return 1; $$"),
        (5, 7, "lbl: BEGIN"),
        (6, 12, "select begin from t"),
        (7, 13, "select 2"),
    ]
    assert split_statements(SCRIPT)[4].text.endswith("END lbl")
    assert split_statements("  ;; -- only a comment\n") == []


def test_markers_and_legacy_forms():
    assert markers("select :a, ':b', x::int, /* :c */ :d, :a") == ["a", "d"]
    text, args = bind("select :a, '{{v}}', '${w}', '{{unknown}}', :zz", {"a": "1", "v": "V", "w": "W"})
    assert text == "select :a, 'V', 'W', '{{unknown}}', :zz" and args == {"a": "1"}
    assert inline_markers("select :a, ':a'", {"a": "it's \\ x"}) == "select 'it\\'s \\\\ x', ':a'"
