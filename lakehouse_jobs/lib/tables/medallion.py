"""The medallion asset API: a Delta table declared in a few lines.

    @medallion_asset(layer="silver", write_mode="merge", merge_keys=["order_id"])
    def orders(bronze_orders: DataFrame) -> DataFrame:
        return bronze_orders.dropDuplicates(["order_id"])

The function returns a Spark DataFrame; the plugin commits it to
`$LAKEHOUSE_ROOT/<layer>/<table>` in one Delta transaction and reports row count,
Delta version, schema, path and operation metrics. Parameters are injected by
name: `context`, `spark`, `lakehouse`, and upstream tables — either declared in
`inputs={"orders": "bronze/orders"}` or named `<layer>_<table>`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import dagster as dg

from lakehouse_jobs.lib.errors import LakehouseError, SpecError
from lakehouse_jobs.lib.names import LAYERS, validate_layer, validate_table_name
from lakehouse_jobs.lib.tables.delta_io import WriteSpec, describe, read_delta, write_delta
from lakehouse_jobs.lib.tables.expectations import Expectation, apply_expectations, check_specs
from lakehouse_jobs.lib.tables.incremental import Plan, Refresh, plan, record_tag, upstream
from lakehouse_jobs.lib.tags import ENGINE_NEEDS, TABLE, WRITER

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

SPARK_KEY = "spark"
LAKEHOUSE_KEY = "lakehouse"
_INJECTED = ("context", SPARK_KEY, LAKEHOUSE_KEY)


class RefreshConfig(dg.Config):
    """Run config of an incremental table asset (the UI's Launchpad: `full_refresh: true`)."""

    full_refresh: bool = False


@dataclass
class TableOutput:
    """Return this instead of a bare DataFrame to add metadata (e.g. dropped-row counts)."""

    df: DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)


def table_key(spec: str | Sequence[str] | dg.AssetKey, path: str = "inputs") -> dg.AssetKey:
    """'silver/orders', ['silver', 'orders'] or an AssetKey -> a validated medallion AssetKey."""
    if isinstance(spec, dg.AssetKey):
        parts = list(spec.path)
    elif isinstance(spec, str):
        parts = spec.split("/")
    else:
        parts = list(spec)
    if len(parts) != 2:
        raise SpecError(path, f"expected '<layer>/<table>', got {spec!r}")
    validate_layer(parts[0], path)
    validate_table_name(parts[1], path)
    return dg.AssetKey(parts)


def _param_inputs(fn: Callable[..., Any], explicit: Mapping[str, Any], injected: Sequence[str] = ()) -> dict[str, dg.AssetKey]:
    """Map each non-injected parameter to the upstream table it reads."""
    resolved: dict[str, dg.AssetKey] = {}
    for name in inspect.signature(fn).parameters:
        if name in _INJECTED or name in injected:
            continue
        if name in explicit:
            resolved[name] = table_key(explicit[name], f"inputs.{name}")
            continue
        layer, _, table = name.partition("_")
        if layer not in LAYERS or not table:
            raise SpecError(
                f"{fn.__name__}({name})",
                "parameter is neither context/spark/lakehouse, a resource of resources=, an entry of inputs=, nor named <layer>_<table>",
            )
        resolved[name] = table_key([layer, table], f"{fn.__name__}({name})")
    unknown = set(explicit) - set(resolved)
    if unknown:
        raise SpecError("inputs", f"{sorted(unknown)} are not parameters of {fn.__name__}")
    return resolved


def read_table(spark: Any, lakehouse: Any, key: str | Sequence[str] | dg.AssetKey, version: int | None = None) -> DataFrame:
    """Read an upstream medallion table as a Spark DataFrame (one call)."""
    asset_key = table_key(key, "key")
    return read_delta(spark, lakehouse.table_path(*asset_key.path), version)


POOL_PREFIX = "delta"


def table_pool(key: str | Sequence[str] | dg.AssetKey) -> str:
    """The Dagster pool of the asset writing a table: `delta/<layer>/<table>`.

    One pool per Delta table: with the instance's `concurrency: pools: default_limit: 1`,
    two runs never write the same table at once (the second step waits for the slot),
    while different tables still run in parallel. Any asset writing a table (ingestion,
    a pipeline dataset) should take this pool too."""
    return "/".join([POOL_PREFIX, *table_key(key, "key").path])


def table_asset_args(
    layer: str,
    table: str,
    *,
    pool: str | None = None,
    description: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    group_name: str | None = None,
    resources: Sequence[str] = (),
    metadata: Mapping[str, Any] | None = None,
    needs: Sequence[str] = (),
    op_tags: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The `dg.asset` arguments every Delta table asset shares (medallion, ingestion, CDC).

    Key `<layer>/<table>`, group = layer, kinds spark/delta/layer, the spark and
    lakehouse resources, and `dagster/table_name` — so the UI reads as a medallion;
    pool `table_pool` (one writer per table at a time) unless `pool` names another;
    op tag `tags.ENGINE_NEEDS`: the engine features the step `needs` (LAKEHOUSE_ENGINE=auto reads it).
    """
    return {
        "key": dg.AssetKey([layer, table]),
        "pool": pool or table_pool([layer, table]),
        "group_name": group_name or layer,
        "kinds": {"spark", "delta", layer},
        "description": description,
        "owners": list(owners) if owners else None,
        "tags": dict(tags or {}),
        "required_resource_keys": {SPARK_KEY, LAKEHOUSE_KEY, *resources},
        "metadata": {"dagster/table_name": f"{layer}.{table}", **(metadata or {})},
        "op_tags": {**(op_tags or {}), ENGINE_NEEDS: ",".join(needs), TABLE: f"{layer}/{table}"},
    }


def skippable_asset(args: Mapping[str, Any]) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dg.asset(**args)` whose materialization and checks may both be absent (nothing new to refresh).

    A plain asset's check outputs are always required; a one-spec multi-asset that can be
    subset, with a skippable spec, lets the step yield neither, and Dagster skips the
    run's downstream steps."""
    args = dict(args)
    key = args.pop("key")
    spec_fields = ("group_name", "kinds", "description", "owners", "tags", "metadata", "deps")
    spec = dg.AssetSpec(key, skippable=True, **{f: args.pop(f) for f in spec_fields if f in args})
    return dg.multi_asset(name="__".join(key.path), specs=[spec], can_subset=True, **args)


def runtime(context: Any, what: str = "", needs: Sequence[str] = ()) -> tuple[Any, Any]:
    """(SparkSession, LakehouseResource) of a running table asset; `what` (the table) is refused
    first when the run's engine lacks the features it `needs` (`SparkResource.require`)."""
    spark = getattr(context.resources, SPARK_KEY)
    if needs and hasattr(spark, "require"):
        spark.require(what, needs)
    return spark.get_session(), getattr(context.resources, LAKEHOUSE_KEY)


def medallion_asset(
    *,
    layer: str,
    name: str | None = None,
    write_mode: str = "overwrite",
    merge_keys: Sequence[str] = (),
    partition_by: Sequence[str] = (),
    delete_unmatched: bool = False,
    merge_schema: bool = False,
    inputs: Mapping[str, str | Sequence[str] | dg.AssetKey] | None = None,
    deps: Sequence[Any] = (),
    description: str | None = None,
    owners: Sequence[str] | None = None,
    tags: Mapping[str, str] | None = None,
    group_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    expectations: Sequence[Expectation] = (),
    resources: Sequence[str] = (),
    refresh: str = "full",
    incremental_source: str | None = None,
    refresh_keys: Sequence[str] = (),
    max_affected_keys: int | None = None,
    needs: Sequence[str] = (),
    **asset_kwargs: Any,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """Declare a Delta table asset `<layer>/<name>` written with `write_mode`.

    `expectations` (lib/expectations.py) become asset checks evaluated before the write;
    `resources` names further Dagster resources injected by parameter name (e.g. "mlflow");
    `refresh` (full | incremental | affected_keys, with `incremental_source` / `refresh_keys`)
    says what a refresh recomputes (tables/incremental.py); `needs` names what the function
    relies on that Sail lacks (`runtime/sail.LACKS`, e.g. "file_lineage" for `input_file_name()`):
    on Sail the step is refused before its session starts, and `auto` runs it on the JVM."""
    validate_layer(layer)
    from lakehouse_jobs.lib.runtime.sail import LACKS

    for index, need in enumerate(needs):
        if need not in LACKS:
            raise SpecError(f"needs[{index}]", f"{need!r} is not an engine feature; known: {', '.join(sorted(LACKS))}")
    for index, resource in enumerate(resources):
        if not resource.isidentifier():
            raise SpecError(f"resources[{index}]", f"{resource!r} is not a resource key")
    spec = WriteSpec(write_mode, tuple(merge_keys), tuple(partition_by), delete_unmatched, merge_schema)
    how = Refresh(refresh, incremental_source, tuple(refresh_keys), max_affected_keys or Refresh.max_affected_keys)

    def decorator(fn: Callable[..., Any]) -> dg.AssetsDefinition:
        table = name or fn.__name__.removeprefix(f"{layer}_")
        validate_table_name(table, f"{fn.__name__}.name")
        upstream_tables = _param_inputs(fn, inputs or {}, resources)
        how.check(spec.mode, list(upstream_tables))
        params = inspect.signature(fn).parameters
        key = dg.AssetKey([layer, table])
        incremental = how.mode != "full"

        asset_args = dict(
            **table_asset_args(
                layer,
                table,
                description=description or inspect.getdoc(fn),
                owners=owners,
                tags=tags,
                group_name=group_name,
                resources=resources,
                pool=asset_kwargs.pop("pool", None),
                needs=needs,
                op_tags={WRITER: "delta-rs", **(asset_kwargs.pop("op_tags", None) or {})},  # on Sail, to a table with the change feed
                metadata={
                    "write_mode": spec.mode,
                    "merge_keys": list(spec.merge_keys),
                    "partition_by": list(spec.partition_by),
                    "refresh_mode": how.mode,
                    **({"refresh_keys": list(how.keys)} if how.keys else {}),
                    **(metadata or {}),
                },
            ),  # fmt: skip
            deps=[*upstream_tables.values(), *deps],
            check_specs=check_specs(key, expectations) or None,
            **asset_kwargs,
        )

        def refresh_table(context: Any, full_refresh: bool) -> Iterator[dg.MaterializeResult]:
            spark, lakehouse = runtime(context, f"{layer}/{table}", needs)
            path = lakehouse.table_path(layer, table)
            todo = None
            if incremental:
                sources = {p: upstream(k.to_user_string(), lakehouse.table_path(*k.path)) for p, k in upstream_tables.items()}
                todo = plan(spark, how, path, sources, full_refresh=full_refresh)
                if todo.kind == "nothing":
                    context.log.info(f"{key.to_user_string()}: {todo.reason}; nothing to refresh (no materialization, downstream steps skipped).")
                    return
                context.log.info(f"{key.to_user_string()}: {todo.kind} refresh ({todo.reason}).")
                inputs = todo.inputs
            else:
                inputs = {p: read_table(spark, lakehouse, k) for p, k in upstream_tables.items()}
            available = {"context": context, SPARK_KEY: spark, LAKEHOUSE_KEY: lakehouse, **{r: getattr(context.resources, r) for r in resources}}
            kwargs = {p: available[p] for p in params if p in available}
            done = _commit(context, key, path, fn(**kwargs, **inputs), spec, expectations, todo)
            if done is not None:
                yield done

        if incremental:

            def _materialize(context, config):  # noqa: ANN001 - dagster reads the hint set below
                yield from refresh_table(context, config.full_refresh)

            _materialize.__annotations__["config"] = RefreshConfig  # a real class: this module's annotations are strings
        else:

            def _materialize(context):  # noqa: ANN001 - dagster inspects the parameter
                yield from refresh_table(context, False)

        return (skippable_asset(asset_args) if incremental else dg.asset(**asset_args))(_materialize)

    return decorator


def _commit(
    context: Any, key: dg.AssetKey, path: Any, result: Any, spec: WriteSpec, expectations: Sequence[Expectation], todo: Plan | None
) -> dg.MaterializeResult:
    """Check `result` against the expectations and commit it in one Delta transaction.

    With a refresh plan (`todo`), the bookmark rides in the same commit; a full refresh
    of an incremental table replaces it, an affected-keys refresh replaces those keys."""
    spark, lakehouse = runtime(context)
    output = result if isinstance(result, TableOutput) else TableOutput(result)
    if not hasattr(output.df, "write"):
        raise LakehouseError(f"{key.to_user_string()}: the function must return a Spark DataFrame, got {type(output.df).__name__}")
    evaluation = apply_expectations(context, spark, lakehouse, key, output.df, expectations)
    # A violated expect_or_fail (counted first, or a guard stopping the write): not written;
    # its failed blocking check fails the step.
    not_written = lambda: dg.MaterializeResult(metadata={"written": False, **output.metadata}, check_results=evaluation.check_results())  # noqa: E731
    if evaluation.rows is None:
        return not_written()
    write = WriteSpec("overwrite", partition_by=spec.partition_by) if todo is not None and todo.kind == "full" else spec
    try:
        commit = write_delta(
            spark, evaluation.rows, path, write, table=key.to_user_string(), run_id=context.run_id, log=context.log.warning,
            record=record_tag(todo.record) if todo else "", replace_where=todo.replace_where if todo else None,
        )  # fmt: skip
    except Exception as exc:
        if not evaluation.stopped_write(exc):
            raise
        return not_written()
    if todo is not None and not commit.committed:
        context.log.info(f"{key.to_user_string()}: the refresh changed no row; bookmark saved, no materialization (downstream steps skipped).")
        return None
    refreshed = todo.metadata() if todo else {}
    return dg.MaterializeResult(metadata={**describe(spark, commit), **refreshed, **output.metadata}, check_results=evaluation.check_results())
