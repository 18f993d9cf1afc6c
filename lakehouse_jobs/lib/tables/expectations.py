"""DLT-style expectations on a medallion table, shown as Dagster asset checks.

    @medallion_asset(layer="silver", expectations=[
        expect("has_email", "email IS NOT NULL"),                 # warn: keep the rows, report them
        expect_or_drop("positive_amount", "amount > 0"),          # drop: rows go to the quarantine
        expect_or_fail("known_status", "status IN ('completed', 'cancelled')"),  # fail: nothing written
    ])

Each expectation is a SQL boolean expression over the asset's result rows; a row
satisfies it only when the expression is TRUE (NULL counts as a violation, like a
WHERE clause). All expectations are counted in one aggregation: while the table is
written (a Spark Observation, no second pass over the data; an expect_or_fail is a
guard that stops that write at its first violating row), or before the write when
one drops rows.
Every expectation becomes an asset check named after it, with the violating-row
count in its metadata. `expect_or_fail` checks are blocking: when one is violated
the table is not written (DLT's behaviour; Dagster still records the step's
materialization event, with `written: false`), the check fails with ERROR
severity, Dagster fails the step, and nothing downstream runs. Rows dropped by `expect_or_drop` are appended to the
quarantine with the expectation's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.names import validate_column
from lakehouse_jobs.lib.tables.observation import observed_metrics

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

ACTIONS = ("warn", "drop", "fail")


@dataclass(frozen=True)
class Expectation:
    name: str
    condition: str
    action: str = "warn"

    def __post_init__(self) -> None:
        validate_column(self.name, "expectations.name")
        if self.action not in ACTIONS:
            raise SpecError(f"expectations.{self.name}.action", f"expected one of {', '.join(ACTIONS)}, got {self.action!r}")
        if not isinstance(self.condition, str) or not self.condition.strip():
            raise SpecError(f"expectations.{self.name}.condition", "expected a SQL boolean expression")


def expect(name: str, condition: str) -> Expectation:
    return Expectation(name, condition, "warn")


def expect_or_drop(name: str, condition: str) -> Expectation:
    return Expectation(name, condition, "drop")


def expect_or_fail(name: str, condition: str) -> Expectation:
    return Expectation(name, condition, "fail")


def check_specs(key: dg.AssetKey, expectations: Sequence[Expectation]) -> list[dg.AssetCheckSpec]:
    """One asset check per expectation; `expect_or_fail` ones block downstream assets."""
    names = [e.name for e in expectations]
    if len(set(names)) != len(names):
        raise SpecError("expectations", f"duplicate expectation names in {names}")
    return [
        dg.AssetCheckSpec(
            name=e.name, asset=key, blocking=e.action == "fail", description=f"expect{'' if e.action == 'warn' else '_or_' + e.action}: {e.condition}"
        )
        for e in expectations
    ]


def _satisfied(expectation: Expectation):
    from pyspark.sql import functions as F

    return F.coalesce(F.expr(expectation.condition).cast("boolean"), F.lit(False))


def _aggregates(expectations: Sequence[Expectation]) -> list[Any]:
    from pyspark.sql import functions as F

    aggregates = [F.count(F.lit(1)).alias("__total")]
    for index, e in enumerate(expectations):
        aggregates.append(F.sum(F.when(~_satisfied(e), 1).otherwise(0)).alias(f"__e{index}"))
    return aggregates


def _validate(df: DataFrame, key: dg.AssetKey, expectations: Sequence[Expectation]) -> None:
    """Analysis only (no job): name the expectation whose SQL does not fit the result."""
    from pyspark.sql import functions as F

    for e in expectations:
        try:
            df.select(F.expr(e.condition)).schema  # noqa: B018
        except Exception as exc:  # noqa: BLE001 - Spark's analysis/parse errors differ by runtime
            raise LakehouseError(
                f"{key.to_user_string()}: expectation {e.name!r} ({e.condition!r}) is not valid SQL over the result: {str(exc).splitlines()[0]}"
            ) from None


def _counts(row: Any, expectations: Sequence[Expectation]) -> tuple[int, dict[str, int]]:
    return int(row["__total"]), {e.name: int(row[f"__e{i}"] or 0) for i, e in enumerate(expectations)}


def _result(key: dg.AssetKey, e: Expectation, violations: int, total: int) -> dg.AssetCheckResult:
    severity = dg.AssetCheckSeverity.ERROR if e.action == "fail" else dg.AssetCheckSeverity.WARN
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=e.name,
        passed=violations == 0,
        severity=severity,
        metadata={
            "violating_rows": violations,
            "total_rows": total,
            "condition": e.condition,
            "action": e.action,
            **({"dropped_rows": violations} if e.action == "drop" else {}),
        },
    )


@dataclass
class Evaluation:
    """What to write, and the asset check results once it is written.

    Without expect_or_drop, every expectation is counted by the write itself (an
    Observation: one pass over the data instead of a count and then the write), and
    an expect_or_fail is a guard in that write: the first violating row fails it
    before anything is committed, and only then are the violations counted. Drop
    expectations are counted first, because they decide which rows are written."""

    key: dg.AssetKey
    expectations: Sequence[Expectation]
    rows: DataFrame | None
    results: list[dg.AssetCheckResult] | None = None
    observation: Any = None
    unobserved: DataFrame | None = None

    def check_results(self) -> list[dg.AssetCheckResult]:
        if self.results is None:
            metrics = observed_metrics(self.observation) if self.observation is not None else None
            if metrics is None:  # no write, or one that ran the plan without reporting (e.g. a MERGE over Spark Connect)
                metrics = self.unobserved.agg(*_aggregates(self.expectations)).first().asDict()
            total, violations = _counts(metrics, self.expectations)
            self.results = [_result(self.key, e, violations[e.name], total) for e in self.expectations]
        return self.results

    def stopped_write(self, exc: BaseException) -> bool:
        """Whether `exc` is an expect_or_fail guard stopping the write (then nothing was committed)."""
        seen: BaseException | None = exc
        visited: set[int] = set()
        while seen is not None and id(seen) not in visited:
            if _GUARD in str(seen):
                self.observation, self.rows = None, None  # the aborted write's metrics are partial: count instead
                return True
            visited.add(id(seen))
            seen = seen.__cause__ or seen.__context__
        return False


_GUARD = "lakehouse_jobs: expect_or_fail violated"


def _guarded(df: DataFrame, fails: Sequence[Expectation]) -> DataFrame:
    """`df`, failing the job at the first row that violates one of `fails` (Spark's raise_error).

    Applied above the Observation, which Spark does not push filters through, so the
    guard only ever sees the result's own rows."""
    from pyspark.sql import functions as F

    guard = F.lit(True)
    for e in fails:
        guard = guard & F.when(~_satisfied(e), F.raise_error(F.lit(f"{_GUARD}: {e.name}"))).otherwise(F.lit(True))
    return df.filter(guard)


def apply_expectations(context: Any, spark: Any, lakehouse: Any, key: dg.AssetKey, df: DataFrame, expectations: Sequence[Expectation]) -> Evaluation:
    """Evaluate `expectations` on `df`. Without drops the returned rows carry the counting (and
    the guards of expect_or_fail): write them, and on an error ask `stopped_write` first."""
    if not expectations:
        return Evaluation(key, expectations, df, results=[])
    _validate(df, key, expectations)
    from lakehouse_jobs.lib.runtime import sail

    if not any(e.action == "drop" for e in expectations) and not sail.is_sail(spark):  # Sail has no df.observe: count first
        from pyspark.sql import Observation

        observation = Observation()
        rows = df.observe(observation, *_aggregates(expectations))
        fails = [e for e in expectations if e.action == "fail"]
        return Evaluation(key, expectations, _guarded(rows, fails) if fails else rows, observation=observation, unobserved=df)
    total, violations = _counts(df.agg(*_aggregates(expectations)).first(), expectations)
    results = [_result(key, e, violations[e.name], total) for e in expectations]
    if any(e.action == "fail" and violations[e.name] for e in expectations):
        return Evaluation(key, expectations, None, results)  # nothing is written; the failed blocking check fails the step
    drops = [e for e in expectations if e.action == "drop" and violations[e.name]]
    if drops:
        _quarantine_dropped(spark, lakehouse, key, df, drops, getattr(context, "run_id", None))
        keep = _satisfied(drops[0])
        for e in drops[1:]:
            keep = keep & _satisfied(e)
        df = df.filter(keep)
    return Evaluation(key, expectations, df, results)


def _quarantine_dropped(spark: Any, lakehouse: Any, key: dg.AssetKey, df: DataFrame, drops: Sequence[Expectation], run_id: str | None) -> None:
    """Dropped rows, as JSON, with the names of the expectations they failed."""
    from pyspark.sql import functions as F

    from lakehouse_jobs.lib.tables.quarantine import conform, write_quarantine

    failed = F.concat_ws(",", *[F.when(~_satisfied(e), F.lit(e.name)) for e in drops])
    source_file = F.col("_source_file").cast("string") if "_source_file" in df.columns else F.lit(None).cast("string")
    rejected = df.filter(failed != "").select(
        source_file.alias("file"),
        F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("raw"),
        F.concat(F.lit("expectation failed: "), failed).alias("reason"),
        failed.alias("expectation"),
    )
    write_quarantine(spark, conform(rejected, ".".join(key.path), None, run_id), lakehouse)
