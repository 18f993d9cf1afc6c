"""`read_files(...)` (SQL) and Auto Loader (`spark.readStream.format("cloudFiles")`) in a pipeline.

Both become Spark's own file source over the folder the path maps to (`/Volumes/<c>/<s>/<v>/...` ->
`<root>/volumes/<c>/<s>/<v>/...`, the dbutils.fs rule; every path confined to the lakehouse root).
Streaming reads are incremental and exactly-once through the flow's checkpoint (Spark keeps the
list of files each micro-batch committed), so a second update without new files adds nothing.
The schema is inferred from the files present when the update starts (Auto Loader infers CSV/JSON
columns as strings unless `cloudFiles.inferColumnTypes` is true; `read_files` infers types), and a
`_rescued_data` column is added (always null here: Spark's reader has no rescue of mismatched values).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.notebooks.fs import FsPathError, LocalFS
from lakehouse_jobs.lib.pipelines.graph import PipelineError

RESCUED = "_rescued_data"
FORMATS = {"csv", "json", "parquet", "text", "orc", "avro", "binaryfile", "xml"}
# Auto Loader options that steer discovery/schema tracking: the checkpoint does that job here.
_IGNORED = {
    "schemalocation", "schemaevolutionmode", "usenotifications", "includeexistingfiles", "maxfilesperTrigger".lower(),
    "maxbytespertrigger", "validateoptions", "backfillinterval", "uselistingmode", "useincrementallisting",
    "allowoverwrites", "cleansource", "partitioncolumns", "schemahints", "inferschema", "infercolumntypes", "format",
    "rescueddatacolumn", "resourcetag", "queuename",
}  # fmt: skip


def local_folder(path: str, root: str | Path) -> Path:
    try:
        return LocalFS(root).to_local(path)
    except FsPathError as exc:
        raise PipelineError(f"read_files / Auto Loader: {exc}") from None


def _reader_options(options: Mapping[str, str]) -> dict[str, str]:
    out = {}
    for key, value in options.items():
        bare = key[len("cloudFiles.") :] if key.lower().startswith("cloudfiles.") else key
        if bare.lower() not in _IGNORED:
            out[bare] = str(value)
    return out


def read_files(spark: Any, root: str | Path, path: str, fmt: str | None, options: Mapping[str, str], streaming: bool, auto_loader: bool) -> Any:
    """A (streaming) DataFrame over the files at `path`, typed as Databricks' readers type them."""
    from pyspark.sql import functions as F

    lowered = {k.lower(): str(v) for k, v in options.items()}
    fmt = (fmt or lowered.get("cloudfiles.format") or lowered.get("format") or "").lower()
    if fmt not in FORMATS:
        raise PipelineError(f"read_files({path!r}): format {fmt or 'missing'!r}; expected one of {', '.join(sorted(FORMATS))}")
    folder = local_folder(path, root)
    if not folder.exists():
        raise PipelineError(f"read_files({path!r}): {folder} does not exist (paths under /Volumes map to <lakehouse root>/volumes/...)")
    infer_key = "cloudfiles.infercolumntypes" if auto_loader else "infercolumntypes"
    infer = lowered.get(infer_key, "false" if auto_loader else "true").lower() == "true"
    reader_options = _reader_options(options)
    if fmt == "csv" and infer:
        reader_options.setdefault("inferSchema", "true")
    if not any(p.is_file() and not p.name.startswith(("_", ".")) for p in folder.rglob("*")):
        raise PipelineError(f"read_files({path!r}): no files in {folder} to infer the schema from")
    sample = spark.read.format(fmt).options(**reader_options).load(str(folder))
    schema = sample.schema
    if fmt == "json" and not infer:  # Auto Loader: JSON columns are strings unless types are inferred
        from pyspark.sql.types import StringType, StructField, StructType

        schema = StructType([StructField(f.name, StringType(), True) for f in schema.fields])
    reader = (spark.readStream if streaming else spark.read).format(fmt).schema(schema).options(**reader_options)
    frame = reader.load(str(folder))
    if RESCUED not in frame.columns and fmt in ("csv", "json", "xml"):
        frame = frame.withColumn(RESCUED, F.lit(None).cast("string"))
    return frame


class AutoLoaderReader:
    """`spark.readStream` inside pipeline code: `format("cloudFiles")` becomes `read_files`, any other
    format is Spark's own reader."""

    def __init__(self, spark: Any, root: str | Path):
        self._spark, self._root, self._format, self._options, self._schema = spark, root, None, {}, None

    def format(self, source: str) -> Any:
        if str(source).lower() != "cloudfiles":
            return self._spark.readStream.format(source).options(**self._options)
        self._format = "cloudFiles"
        return self

    def option(self, key: str, value: Any) -> AutoLoaderReader:
        self._options[key] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
        return self

    def options(self, **options: Any) -> AutoLoaderReader:
        for key, value in options.items():
            self.option(key, value)
        return self

    def schema(self, schema: Any) -> AutoLoaderReader:
        self._schema = schema
        return self

    def load(self, path: str | None = None, **options: Any) -> Any:
        self.options(**options)
        if self._format != "cloudFiles":
            return self._spark.readStream.options(**self._options).load(path)
        if self._schema is not None:
            fmt = str(self._options.get("cloudFiles.format", "")).lower()
            return self._spark.readStream.format(fmt).schema(self._schema).options(**_reader_options(self._options)).load(str(local_folder(path, self._root)))
        return read_files(self._spark, self._root, path, None, self._options, True, True)

    def table(self, name: str) -> Any:
        return self._spark.readStream.table(name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark.readStream, name)


class PipelineConf:
    """`spark.conf` with the pipeline's `configuration` first (readable while the sources load, before any session conf is set)."""

    def __init__(self, spark: Any, configuration: Mapping[str, str]):
        self._spark, self._configuration = spark, configuration

    def get(self, key: str, *default: Any) -> Any:
        if key in self._configuration:
            return self._configuration[key]
        return self._spark.conf.get(key, *default)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark.conf, name)


class PipelineSpark:
    """The `spark` pipeline code sees: the run's session, with Auto Loader on `readStream` and the
    pipeline's configuration on `conf`."""

    def __init__(self, spark: Any, root: str | Path, configuration: Mapping[str, str] | None = None):
        self._spark, self._root, self._configuration = spark, root, dict(configuration or {})

    @property
    def conf(self) -> PipelineConf:
        return PipelineConf(self._spark, self._configuration)

    @property
    def readStream(self) -> AutoLoaderReader:  # noqa: N802 - Spark's name
        return AutoLoaderReader(self._spark, self._root)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._spark, name)
