"""A Delta write's user mistakes as one sentence, on either engine (the JVM's, Sail's and delta-rs' messages).

`explain` turns the error of a failed write into a `LakehouseError` when the user caused it (several result
rows sharing a merge key, rows outside an affected-keys refresh's keys, a schema that does not match);
`check_replace_where` refuses, before writing, rows a `replaceWhere` overwrite must not hold, which the JVM's
Delta refuses and Sail and delta-rs would write.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lakehouse_jobs.lib.errors import LakehouseError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def explain(exc: Exception, path: str, keys: Sequence[str] = ()) -> Exception:
    """Turn Delta's commit errors that users cause into one readable sentence."""
    text = str(exc)
    if any(
        m in text for m in ("MULTIPLE_SOURCE_ROW_MATCHING", "MERGE_CARDINALITY_VIOLATION", "matched a target row with multiple source rows")
    ):  # JVM, Sail, delta-rs
        return LakehouseError(f"merge into {path} failed: several result rows share the merge key {list(keys)}; deduplicate them first.")
    if "DELTA_REPLACE_WHERE_MISMATCH" in text or "does not conform to partial table overwrite condition" in text:
        return _outside_keys(path)
    if type(exc).__name__ == "SchemaMismatchError" or any(
        m in text for m in ("DELTA_FAILED_TO_MERGE_FIELDS", "SCHEMA_MISMATCH", "DELTA_METADATA_MISMATCH", "not found in table schema")
    ):
        return LakehouseError(f"write to {path} failed: the result's schema does not match the table's ({text.splitlines()[0]}).")
    return exc


def _outside_keys(path: str) -> LakehouseError:
    return LakehouseError(
        f"write to {path} failed: the result has rows outside the affected refresh keys; with refresh 'affected_keys' "
        "the rows of a key must come only from input rows with that key."
    )


def check_replace_where(df: DataFrame, predicate: str, path: str) -> None:
    """Delta's replaceWhere refuses rows its predicate does not match; delta-rs writes them: refused here, before the write."""
    if df.filter(f"NOT coalesce(({predicate}), false)").limit(1).count():
        raise _outside_keys(path)
