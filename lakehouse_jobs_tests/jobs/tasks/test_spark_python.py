"""spark_python_task: a real script on the run's SparkSession writing a Delta table, its argv, exit codes and failures."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from lakehouse_jobs.lib.jobs import load_spec
from lakehouse_jobs.lib.jobs.load import SpecValidationError, load_spec_file
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS
from lakehouse_jobs.lib.jobs.validate import validate_document

from ..jobrun import read_run, run_spec, task

WRITER = """\
import json
import sys

from pyspark.sql import SparkSession

spark = SparkSession.builder.getOrCreate()
active = SparkSession.getActiveSession()
out, label = sys.argv[1], sys.argv[2]
spark.createDataFrame([(label, len(sys.argv))], "label string, argc int").write.format("delta").mode("append").save(out + "/table")
with open(out + "/" + label + ".json", "w") as f:
    json.dump({"builder": id(spark), "active": id(active), "argv": sys.argv, "name": __name__}, f)
print("wrote", label)
print("warning", label, file=sys.stderr)
"""


def _script(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _messages(instance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_script_shares_the_runs_session_and_writes_delta(instance, spark, tmp_path):
    script = _script(tmp_path / "jobs", "writer.py", WRITER)
    out = tmp_path / "out"
    out.mkdir()
    argv_before = list(sys.argv)
    spec = {
        "name": "scripts",
        "parameters": [{"name": "label", "default": "unused"}],
        "tasks": [
            task("plain", {"spark_python_task": {"python_file": str(script), "parameters": [str(out), "{{job.parameters.label}}"]}}),
            # with a timeout the script runs on another thread: the session is still the run's and the active one
            task("timed", {"spark_python_task": {"python_file": str(script), "parameters": [str(out), "timed"]}}, "plain", timeout_seconds=120),
        ],
    }
    result = run_spec(instance, spec, params={"label": "from_job"})
    assert result.states == {"plain": SUCCESS, "timed": SUCCESS}, result.outputs
    rows = {(r.label, r.argc) for r in spark.read.format("delta").load(str(out / "table")).collect()}
    assert rows == {("from_job", 3), ("timed", 3)}  # job parameters are not pushed down: argv is exactly the task's list
    for label in ("from_job", "timed"):
        seen = json.loads((out / f"{label}.json").read_text())
        assert seen["builder"] == seen["active"] == id(spark)  # the process's session, never a second one
        assert seen["argv"] == [str(script), str(out), label] and seen["name"] == "__main__"
    assert sys.argv == argv_before
    messages = _messages(instance, result.run_id)
    assert "wrote from_job" in messages and "[stderr] warning timed" in messages  # script output in the step's log
    assert result.outputs["plain"]["python_file"] == str(script)


def test_exit_codes_and_exceptions_fail_with_code_or_line(instance, tmp_path):
    folder = tmp_path / "jobs"
    ok = _script(folder, "ok.py", "import sys\nprint('done')\nsys.exit(0)\n")
    none = _script(folder, "none.py", "import sys\nsys.exit(None)\n")
    three = _script(folder, "three.py", "import sys\nsys.exit(3)\n")
    _script(folder, "helper.py", "def explode(n):\n    raise ValueError(f'bad value {n}')\n")
    boom = _script(folder, "boom.py", "import helper\n\nx = 1\nhelper.explode(x)\n")
    done_log = tmp_path / "after.txt"
    after = _script(folder, "after.py", f"open({str(done_log)!r}, 'w').write('ran')\n")
    spec = {
        "name": "exits",
        "tasks": [
            task("ok", {"spark_python_task": {"python_file": str(ok)}}),
            task("none", {"spark_python_task": {"python_file": str(none)}}),
            task("three", {"spark_python_task": {"python_file": str(three)}}),
            task("boom", {"spark_python_task": {"python_file": str(boom)}}),
            task("after", {"spark_python_task": {"python_file": str(after)}}, "three", "boom", run_if="ALL_DONE"),
        ],
    }
    result = run_spec(instance, spec)
    assert result.states == {"ok": SUCCESS, "none": SUCCESS, "three": FAILED, "boom": FAILED, "after": SUCCESS}
    assert result.outputs["three"]["error"] == f"python file {three} exited with code 3"
    # the user's innermost frame (the helper module next to the script), not the runner's
    assert result.outputs["boom"]["error"] == f"python file {folder / 'helper.py'}, line 2: ValueError: bad value 1"
    assert done_log.read_text() == "ran"
    assert "helper" not in sys.modules  # modules imported from the script's folder are dropped afterwards
    assert f'  File "{boom}", line 4, in <module>' in "\n".join(_messages(instance, result.run_id))


def test_relative_path_from_the_yaml_files_folder(instance, spark, tmp_path):
    jobs = tmp_path / "bundle"
    _script(jobs / "src", "job.py", "import sys\nfrom pyspark.sql import SparkSession\n"
            "SparkSession.builder.getOrCreate().range(3).write.format('delta').save(sys.argv[1])\n")  # fmt: skip
    out = tmp_path / "out_table"
    spec_file = jobs / "job.yml"
    spec_file.write_text(
        "name: from_yaml\ntasks:\n"
        f"  - task_key: a\n    spark_python_task:\n      python_file: ./src/job.py\n      parameters: ['{out}']\n"
        f"  - task_key: b\n    depends_on: [{{task_key: a}}]\n    spark_python_task:\n      python_file: file:src/job.py\n"
        f"      parameters: ['{out}_b']\n"
    )
    document = load_spec_file(spec_file)
    import dagster as dg

    from lakehouse_jobs.lib.jobs import reconstructable_job

    with dg.execute_job(reconstructable_job(path=str(spec_file)), instance, raise_on_error=False) as executed:
        run_id = executed.run_id
    result = read_run(instance, run_id, [t.task_key for t in document.job().tasks])
    assert result.states == {"a": SUCCESS, "b": SUCCESS}, result.outputs
    assert spark.read.format("delta").load(str(out)).count() == 3
    assert spark.read.format("delta").load(f"{out}_b").count() == 3


def test_validation_names_the_path_tried(tmp_path):
    (tmp_path / "outside.py").write_text("print(1)\n")
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    spec_file = jobs / "job.yml"
    spec_file.write_text(
        "name: bad\ntasks:\n"
        "  - task_key: missing\n    spark_python_task: {python_file: ./nope.py}\n"
        "  - task_key: escapes\n    spark_python_task: {python_file: ../outside.py}\n"
        "  - task_key: remote\n    spark_python_task: {python_file: 'dbfs:/x.py', source: S3, parameters: [{a: 1}]}\n"
    )
    with pytest.raises(SpecValidationError) as raised:
        load_spec_file(spec_file)
    problems = dict(raised.value.problems)
    assert problems["tasks[0].spark_python_task.python_file"] == f"python_file './nope.py' not found (tried {jobs.resolve() / 'nope.py'})"
    assert "outside the workspace root" in problems["tasks[1].spark_python_task.python_file"]
    assert "is not a local file" in problems["tasks[2].spark_python_task.python_file"]
    assert "expected one of WORKSPACE, GIT" in problems["tasks[2].spark_python_task.source"]
    assert "expected a list of strings" in problems["tasks[2].spark_python_task.parameters"]
    # an absolute path the user gave is accepted; GIT needs the job's git_source (checked when it runs)
    load_spec({"name": "abs", "tasks": [task("a", {"spark_python_task": {"python_file": str(tmp_path / "outside.py")}})]})


def test_git_source_needs_the_jobs_git_source():
    body = {"spark_python_task": {"python_file": "s.py", "source": "GIT"}}
    problems = dict(validate_document({"name": "git", "tasks": [task("a", body)]}))
    assert "does not declare" in problems["tasks[0].spark_python_task.source"]  # GIT with a git_source: test_git_source.py
