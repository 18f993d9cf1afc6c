"""spark_jar_task and spark_submit_task: a real jar compiled here, run through spark-submit in its own JVM.

The jar's WriteRows main writes a Delta table (the project's Delta jars on its classpath) that the
test reads back with the shared session; its Fail main throws. Each run starts an extra driver JVM
(~5-25 s on a loaded 2-core machine), so the tests bundle several tasks into one run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from lakehouse_jobs.lib.jobs import load_spec, reconstructable_job
from lakehouse_jobs.lib.jobs.load import SpecValidationError, load_spec_file
from lakehouse_jobs.lib.jobs.result_states import FAILED, SUCCESS, TIMEDOUT
from lakehouse_jobs.lib.runtime.spark_submit import error_line, spark_home

from ..jobrun import fn, read_run, run_spec, task

WRITE_ROWS = """\
package demo;

import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

public class WriteRows {
    public static void main(String[] args) {
        SparkSession spark = SparkSession.builder().getOrCreate();
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < args[1].length(); i++) {
            rows.add(RowFactory.create(args[1], i, args.length));
        }
        StructType schema = new StructType().add("label", DataTypes.StringType).add("n", DataTypes.IntegerType).add("argc", DataTypes.IntegerType);
        spark.createDataFrame(rows, schema).write().format("delta").mode("append").save(args[0]);
        System.out.println("wrote " + rows.size() + " rows for " + args[1]);
        System.err.println("note on stderr for " + args[1]);
    }
}
"""

FAIL = """\
package demo;

public class Fail {
    public static void main(String[] args) {
        System.out.println("about to fail");
        throw new IllegalStateException("no input for " + args[0]);
    }
}
"""


def _jdk_tool(name: str) -> str | None:
    home = os.environ.get("JAVA_HOME")
    candidate = os.path.join(home, "bin", name) if home else None
    return candidate if candidate and os.access(candidate, os.X_OK) else shutil.which(name)


@pytest.fixture(scope="module")
def app_jar(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo.WriteRows and demo.Fail compiled against pyspark's jars, packaged as dist/demo-app-1.0.jar (once per module)."""
    javac, jar = _jdk_tool("javac"), _jdk_tool("jar")
    if javac is None or jar is None:
        pytest.skip("no JDK javac/jar on PATH or under $JAVA_HOME/bin (a JRE only): install a JDK 17 to compile the test jar")
    root = tmp_path_factory.mktemp("jar_project")
    sources = root / "src" / "demo"
    sources.mkdir(parents=True)
    (sources / "WriteRows.java").write_text(WRITE_ROWS)
    (sources / "Fail.java").write_text(FAIL)
    classes = root / "classes"
    classpath = os.path.join(spark_home(), "jars", "*")
    subprocess.run([javac, "-d", str(classes), "-cp", classpath, *map(str, sources.glob("*.java"))], check=True, capture_output=True, timeout=300)
    target = root / "dist" / "demo-app-1.0.jar"
    target.parent.mkdir()
    subprocess.run([jar, "cf", str(target), "-C", str(classes), "."], check=True, capture_output=True, timeout=120)
    return target


def _messages(instance, run_id: str) -> list[str]:
    return [entry.user_message for entry in instance.all_logs(run_id)]


def test_jar_writes_delta_and_a_throwing_main_fails_naming_the_exception(instance, spark, app_jar, tmp_path):
    out = tmp_path / "table"
    after_log = tmp_path / "after.jsonl"
    jars = [{"jar": str(app_jar.parent / "demo-app-*.jar")}]  # a glob matching exactly one jar
    spec = {
        "name": "jars",
        "parameters": [{"name": "label", "default": "unused"}],
        "tasks": [
            task("write", {"spark_jar_task": {"main_class_name": "demo.WriteRows", "parameters": [str(out), "{{job.parameters.label}}"]}}, libraries=jars),
            task("fail", {"spark_jar_task": {"main_class_name": "demo.Fail", "parameters": ["x.csv"]}}, "write", libraries=jars),
            task("missing", {"spark_jar_task": {"main_class_name": "demo.Fail"}}, libraries=[{"jar": str(tmp_path / "nope-*.jar")}]),
            task("elsewhere", {"spark_jar_task": {"main_class_name": "demo.Other", "jar_uri": str(app_jar)}}),
            task(
                "slow",
                {"spark_jar_task": {"main_class_name": "demo.WriteRows", "parameters": [str(tmp_path / "never"), "z"]}},
                libraries=jars,
                timeout_seconds=1,
            ),
            task("after", {"python_callable_task": {"callable": fn("ok"), "parameters": [str(after_log), "after"]}}, "fail", run_if="ALL_DONE"),
        ],
    }
    result = run_spec(instance, spec, params={"label": "abc"})
    assert result.states == {"write": SUCCESS, "fail": FAILED, "missing": FAILED, "elsewhere": FAILED, "slow": TIMEDOUT, "after": SUCCESS}, result.outputs
    rows = sorted((r.label, r.n, r.argc) for r in spark.read.format("delta").load(str(out)).collect())
    assert rows == [("abc", 0, 2), ("abc", 1, 2), ("abc", 2, 2)]  # job parameters not pushed down: args are exactly the task's list
    assert (
        result.outputs["fail"]["error"]
        == 'main class demo.Fail exited with code 1: Exception in thread "main" java.lang.IllegalStateException: no input for x.csv'
    )
    assert "matches no .jar file" in result.outputs["missing"]["error"] and "nope-*.jar" in result.outputs["missing"]["error"]
    assert result.outputs["elsewhere"]["error"] == f"main class demo.Other is in none of the task's jars ({app_jar})"
    assert result.outputs["slow"]["error"] == "slow timed out after 1 s (its spark-submit process group was killed)"
    assert not (tmp_path / "never").exists()
    assert after_log.exists()
    messages = _messages(instance, result.run_id)
    assert "wrote 3 rows for abc" in messages and "[stderr] note on stderr for abc" in messages  # the JVM's output in the step's log
    assert "about to fail" in messages and any(m.startswith("[stderr] \tat demo.Fail.main") for m in messages)
    assert any("its own JVM (spark-submit --master local[*])" in m for m in messages)
    assert result.outputs["write"]["jar"] == str(app_jar) and result.outputs["write"]["master"] == "local[*]"


def test_spark_submit_task_runs_a_class_from_the_yaml_files_folder(instance, spark, app_jar, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "lib").mkdir(parents=True)
    shutil.copy(app_jar, bundle / "lib" / "app.jar")
    out = tmp_path / "submitted"
    spec_file = bundle / "job.yml"
    spec_file.write_text(
        textwrap.dedent(f"""\
        name: submit
        tasks:
          - task_key: submit
            spark_submit_task:
              parameters: ["--class", "demo.WriteRows", "--conf", "spark.sql.shuffle.partitions=2", "./lib/app.jar", "{out}", "xy", "extra"]
        """)
    )
    document = load_spec_file(spec_file)
    with dg.execute_job(reconstructable_job(path=str(spec_file)), instance, raise_on_error=False) as executed:
        run_id = executed.run_id
    result = read_run(instance, run_id, [t.task_key for t in document.job().tasks])
    assert result.states == {"submit": SUCCESS}, result.outputs
    rows = sorted((r.label, r.n, r.argc) for r in spark.read.format("delta").load(str(out)).collect())
    assert rows == [("xy", 0, 3), ("xy", 1, 3)]
    assert result.outputs["submit"]["application"] == str((bundle / "lib" / "app.jar").resolve())
    assert "wrote 2 rows for xy" in _messages(instance, run_id)


def test_validation_with_field_paths(tmp_path, app_jar):
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    shutil.copy(app_jar, jobs / "app.jar")
    spec_file = jobs / "job.yml"
    spec_file.write_text(
        "name: bad\ntasks:\n"
        "  - task_key: master\n    spark_submit_task: {parameters: ['--master', 'yarn', '--class', 'demo.Fail', './app.jar']}\n"
        "  - task_key: conf\n    spark_submit_task: {parameters: ['--conf', 'spark.submit.deployMode=cluster', './app.jar']}\n"
        "  - task_key: nojar\n    spark_submit_task: {parameters: ['--class', 'demo.Fail', './nope.jar']}\n"
        "  - task_key: noapp\n    spark_submit_task: {parameters: ['--class', 'demo.Fail']}\n"
        "  - task_key: unknown\n    spark_submit_task: {parameters: ['--clas', 'demo.Fail', './app.jar']}\n"
        "  - task_key: noclass\n    spark_jar_task: {parameters: [1, {a: b}]}\n"
        "  - task_key: badclass\n    spark_jar_task: {main_class_name: 'demo.1Main', jar_uri: 'dbfs:/x.jar', extra: 1}\n"
        "  - task_key: escapes\n    spark_jar_task: {main_class_name: demo.Fail, jar_uri: ../outside.jar}\n"
    )
    with pytest.raises(SpecValidationError) as raised:
        load_spec_file(spec_file)
    problems = dict(raised.value.problems)
    assert problems["tasks[0].spark_submit_task.parameters[0]"] == (
        "--master cannot be set here: the master is the run's Spark (Databricks does not let a spark-submit task override it either)"
    )
    assert problems["tasks[1].spark_submit_task.parameters[0]"].startswith("--conf spark.submit.deployMode cannot be set here")
    assert problems["tasks[2].spark_submit_task.parameters"] == f"application './nope.jar' not found (tried {jobs.resolve() / 'nope.jar'})"
    assert problems["tasks[3].spark_submit_task.parameters"].startswith("no application")
    assert problems["tasks[4].spark_submit_task.parameters[0]"] == "'--clas' is not a spark-submit option"
    assert problems["tasks[5].spark_jar_task.main_class_name"].startswith("missing")
    assert problems["tasks[5].spark_jar_task.parameters"].startswith("expected a list of strings")
    assert problems["tasks[6].spark_jar_task.main_class_name"] == "'demo.1Main' is not a Java class name (package.Class)"
    assert "is not a local file" in problems["tasks[6].spark_jar_task.jar_uri"]
    assert problems["tasks[6].spark_jar_task.extra"] == "unknown field"
    assert "outside the workspace root" in problems["tasks[7].spark_jar_task.jar_uri"]
    assert len(problems) == 11, problems
    # a valid pair validates (the libraries jar of a spark_jar_task is looked for when it runs)
    load_spec(
        {
            "name": "ok",
            "tasks": [
                task("a", {"spark_jar_task": {"main_class_name": "demo.WriteRows", "parameters": ["x", "{{job.id}}"]}}, libraries=[{"jar": "./missing.jar"}]),
                task("b", {"spark_submit_task": {"parameters": ["--class", "demo.Fail", "--verbose", f"--jars={app_jar}", str(app_jar), "a"]}}),
            ],
        }
    )


def test_error_line_prefers_the_uncaught_exception():
    stderr = [
        "25/01/01 WARN NativeCodeLoader: whatever",
        'Exception in thread "main" org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist',
        "\tat org.apache.spark.Foo.bar(Foo.scala:1)",
        "Caused by: java.io.FileNotFoundException: /x",
        "\t... 12 more",
    ]
    assert error_line(stderr) == (
        'Exception in thread "main" org.apache.spark.sql.AnalysisException: [PATH_NOT_FOUND] Path does not exist (Caused by: java.io.FileNotFoundException: /x)'
    )
    assert (
        error_line(["Warning: x", "Error: Failed to load class demo.Nope.", "25/01/01 INFO ShutdownHookManager: bye"])
        == "Error: Failed to load class demo.Nope."
    )


def test_master_follows_the_runs_spark_and_connect_runs_local(tmp_path):
    from lakehouse_jobs.lib import LakehouseResource, SparkResource
    from lakehouse_jobs.lib.runtime.spark_submit import command, target

    lakehouse = LakehouseResource(root=str(tmp_path))
    connect = target(SparkResource(job_cluster=True, num_workers=2), lakehouse, "app")
    assert connect.master == "local[2]" and "Spark Connect server, which a JVM application's main class cannot attach to" in connect.note
    assert target(SparkResource(remote="sc://127.0.0.1:15002"), lakehouse, "app").master == "local[*]"
    standalone = target(SparkResource(master="spark://127.0.0.1:7077"), lakehouse, "app")
    assert standalone.master == "spark://127.0.0.1:7077"
    assert standalone.conf["spark.driver.bindAddress"] == standalone.conf["spark.driver.host"] == "127.0.0.1"
    assert standalone.conf["spark.ui.enabled"] == "false" and standalone.conf["spark.sql.extensions"].startswith("io.delta.sql.DeltaSparkSessionExtension")
    argv = command(standalone, ["--class", "a.B"], ["/x/dep.jar"], ["/x/app.jar", "1"])
    jars = argv[argv.index("--jars") + 1].split(",")
    assert any("delta-spark" in jar for jar in jars) and jars[-1] == "/x/dep.jar"  # Delta's jars and the task's, in one --jars
    assert argv[-2:] == ["/x/app.jar", "1"] and "spark.master" not in " ".join(argv)
