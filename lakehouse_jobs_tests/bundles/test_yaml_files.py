"""Reading spec and bundle files safely: binary files and alias bombs are one sentence, fast."""

from __future__ import annotations

import time

import pytest

from lakehouse_jobs.cli import main
from lakehouse_jobs.lib.bundles.problems import BundleError
from lakehouse_jobs.lib.bundles.yaml_files import read_yaml
from lakehouse_jobs.lib.jobs.load import SpecValidationError, load_spec_file

BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
tasks: *i
"""


def test_binary_file_is_one_line(tmp_path, capsys):
    path = tmp_path / "job.yml"
    path.write_bytes(b"name: x\ntasks: []\n\xff\xfe\x00binary")
    with pytest.raises(BundleError) as caught:
        read_yaml(path)
    assert caught.value.problems == [(str(path), "not UTF-8 text (byte 0xff at offset 18)")]
    assert main(["validate", str(path)]) == 1
    err = capsys.readouterr().err
    assert "not UTF-8 text (byte 0xff at offset 18)" in err and "Traceback" not in err


def test_billion_laughs_is_refused_fast(tmp_path):
    path = tmp_path / "bomb.yml"
    path.write_text(BILLION_LAUGHS)
    assert path.stat().st_size < 1200
    started = time.perf_counter()
    with pytest.raises(SpecValidationError) as caught:
        load_spec_file(path)
    assert time.perf_counter() - started < 1.0
    assert caught.value.problems == [("", "YAML aliases expand past 1,000,000 nodes (alias bomb?)")]


def test_aliases_within_the_bound_still_work(tmp_path):
    path = tmp_path / "ok.yml"
    path.write_text("base: &base {left: '1', op: EQUAL_TO, right: '1'}\nuse: [*base, *base]\n")
    assert read_yaml(path)["use"] == [{"left": "1", "op": "EQUAL_TO", "right": "1"}] * 2


def test_an_alias_inside_itself_is_refused(tmp_path):
    path = tmp_path / "loop.yml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(BundleError, match="an alias refers to itself"):
        read_yaml(path)
