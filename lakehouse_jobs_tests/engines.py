"""Which Spark tests the Sail pass skips, and why (docs/engines.md, "The suite on Sail").

`make test` runs the suite on the JVM, then every test that takes the `spark` session
again with LAKEHOUSE_ENGINE=sail (conftest.py). A test whose node id starts with a key
here is skipped in that pass, saying the reason: what it relies on that Sail lacks or
does otherwise. Everything else must pass on both engines.
"""

from __future__ import annotations

import os

ONE_PASS = "the JVM's one-pass batch (Observation, line counts); on Sail the Python parsers hand over every refused record before the write"
LANDING = "read_landing needs Spark's PERMISSIVE reader and _metadata.file_path (refused on Sail; ingestion reads CSV there)"
CATALOG = (
    "the JVM catalog plugin's own statements: USE CATALOG of a catalog Sail's server was not started with, "
    "the plugin's Spark settings (names on Sail: catalog/unity_rest.py)"
)
OBSERVE = "counts expectations inside the write with df.observe, which Sail lacks (there they are counted first: test_medallion)"
CONFLICT = "drives Delta's JVM conflict classes; Sail reports a lost commit without a class and has no txnAppId idempotency"
CLASSIC = "needs a classic SparkSession (SparkContext, JVM clusters)"
STREAMING = "pipeline streaming tables need streaming DataFrames (readStream); Sail's are never streaming"
PIPELINE_UDF = STREAMING + ", and Sail refuses the runner's Python UDF ('missing argument: Python UDF output type')"

T = "lakehouse_jobs_tests/"
JVM_ONLY: dict[str, str] = {
    T + "ingest/test_ingestion.py::test_a_big_csv_batch_reads_its_parse_again_only_when_rows_fall_short_of_lines": ONE_PASS,
    T + "ingest/test_ingestion.py::test_a_big_batch_is_read_once_and_a_clean_one_is_settled_for_good": ONE_PASS,
    T + "ingest/test_landing.py::test_csv_and_json_keep_raw_values_with_source_file": LANDING,
    T + "examples/test_databricks_etl.py": "its bronze notebook reads _metadata.file_path, which Sail lacks (the task fails saying so and naming the setting)",
    T + "catalog/test_catalog.py::test_other_catalogs_live_under_catalogs_and_register_at_runtime": CATALOG,
    T + "catalog/test_catalog.py::test_spark_reads_and_writes_volume_paths": "SQL on a /Volumes file path and _metadata.file_path, which Sail lacks",
    T + "catalog/test_across_runs.py": "its SQL file names a USING join's column through a table alias (o.customer), which Sail cannot resolve",
    T + "catalog/test_conf.py": CATALOG,
    T + "tables/test_expectations.py::test_expect_or_fail_is_a_guard_in_the_write_that_sees_only_the_results_rows": OBSERVE,
    T + "tables/test_expectations.py::test_warn_only_expectations_are_counted_by_the_write_itself": OBSERVE,
    T + "tables/test_conflicts.py::test_a_conflict_outlasting_the_attempts_is_one_sentence_naming_table_and_run": CONFLICT,
    T + "tables/test_conflicts.py::test_a_twin_idempotent_writer_is_not_retried": CONFLICT,
    T + "tables/test_conflicts.py::test_a_medallion_asset_retries_logs_and_stamps_its_run": CONFLICT,
    T + "tables/test_conflicts.py::test_cdc_apply_changes_retries_a_conflicting_merge": "injects its conflict from inside the MERGE's source, which Sail computes before its MERGE starts (staged: tables/staging.py)",
    T + "tables/test_delta_io.py::test_row_count_from_log_statistics_matches_spark_even_with_deletion_vectors": "turns deletion vectors on, which Sail's session refuses (delta-rs would add table features the JVM does not)",
    T + "runtime/test_spark.py": CLASSIC,
    T + "runtime/test_standalone.py": CLASSIC,
    T + "runtime/test_sail.py::test_sail_is_refused_in_a_process_running_the_jvm": "checks the refusal in a process that already runs the JVM",
    T + "jobs/tasks/test_spark_jar.py": "a JAR task runs in a JVM of its own (spark-submit) whatever the run's engine: nothing to run again",
    T + "notebooks/test_runner.py::test_cells_share_a_namespace_with_run_sql_sh_fs_md_pip": CLASSIC + ": the notebook's `sc`",
    T + "notebooks/test_runner.py::test_databricks_sdk_runtime_and_active_session_are_the_runs": CLASSIC + ": databricks-sdk's runtime session",
    T + "pipelines/test_pipeline_updates.py::test_sql_pipeline_end_to_end": STREAMING,
    T + "pipelines/test_pipeline_updates.py::test_python_pipeline_updates_incrementally_and_full_refresh_rewrites": PIPELINE_UDF,
    T + "pipelines/test_pipeline_updates.py::test_append_flows_into_one_streaming_table_and_a_once_backfill": PIPELINE_UDF,
}  # fmt: skip


ENGINE = os.environ.get("LAKEHOUSE_ENGINE", "").strip().lower() or "spark"  # "sail" in make test's second pass
ON_SAIL = ENGINE == "sail"


def jvm_only(nodeid: str) -> str | None:
    """Why the test `nodeid` is skipped in the Sail pass (None: it runs there)."""
    return next((reason for prefix, reason in JVM_ONLY.items() if nodeid.startswith(prefix)), None)
