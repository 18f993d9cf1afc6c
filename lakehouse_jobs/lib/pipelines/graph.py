"""A pipeline's dataflow graph: datasets (materialized views, streaming tables, temporary views),
the flows that fill them, and the order an update computes them in.

Built by api.py (Python) and sql.py (SQL) while the pipeline's libraries load; checked here: a
dataset defined twice, a flow into no dataset, a dataset read but produced by no one and absent
from the lakehouse, a cycle. Every problem is one sentence naming the dataset and where it was defined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.errors import LakehouseError
from lakehouse_jobs.lib.pipelines.naming import TableName
from lakehouse_jobs.lib.tables.expectations import Expectation

MATERIALIZED_VIEW, STREAMING_TABLE, VIEW = "materialized_view", "streaming_table", "view"


class PipelineError(LakehouseError):
    """A pipeline that cannot be built or updated: one sentence naming the dataset (and file)."""


@dataclass
class CdcSpec:
    """AUTO CDC / apply_changes of a change feed into a streaming table (tables/cdc.py applies it)."""

    keys: list[str]
    sequence_by: str
    apply_as_deletes: Any = None  # SQL text or a Column
    stored_as_scd_type: int = 1
    column_list: list[str] | None = None
    except_column_list: list[str] = field(default_factory=list)


@dataclass
class Flow:
    """How rows reach a dataset: a query (`func()` -> DataFrame) or a CDC feed from `source`."""

    name: str
    target: TableName
    func: Callable[[], Any] | None = None
    source: TableName | None = None
    cdc: CdcSpec | None = None
    reads: set[TableName] = field(default_factory=set)  # found statically (literal names in the code / SQL)
    where: str = ""
    once: bool = False
    sql: str | None = None  # the translated query of a SQL flow (syntax-checked before an update writes anything)


@dataclass
class Dataset:
    name: TableName
    kind: str
    where: str
    comment: str | None = None
    expectations: list[Expectation] = field(default_factory=list)
    table_properties: dict[str, str] = field(default_factory=dict)
    partition_cols: list[str] = field(default_factory=list)
    flows: list[Flow] = field(default_factory=list)

    @property
    def persisted(self) -> bool:
        return self.kind != VIEW

    @property
    def reads(self) -> set[TableName]:
        out: set[TableName] = set()
        for flow in self.flows:
            out |= flow.reads
            if flow.source is not None:
                out.add(flow.source)
        return out - {self.name}


@dataclass
class PipelineGraph:
    key: str
    catalog: str
    schema: str
    datasets: dict[TableName, Dataset] = field(default_factory=dict)
    pending_flows: list[Flow] = field(default_factory=list)
    conf: dict[str, str] = field(default_factory=dict)  # `SET k = v` of SQL sources

    def add_dataset(self, dataset: Dataset) -> Dataset:
        if dataset.name in self.datasets:
            first = self.datasets[dataset.name]
            raise PipelineError(f"pipeline {self.key}: dataset {dataset.name.qualified} is defined twice ({first.where} and {dataset.where})")
        self.datasets[dataset.name] = dataset
        return dataset

    def add_flow(self, flow: Flow) -> None:
        self.pending_flows.append(flow)

    def finish(self) -> None:
        """Attach flows to their datasets (a flow may be declared before its target)."""
        for flow in self.pending_flows:
            target = self.datasets.get(flow.target)
            if target is None:
                raise PipelineError(f"pipeline {self.key}: flow {flow.name!r} ({flow.where}) writes to {flow.target.qualified}, which no dataset defines")
            if flow.cdc is not None and target.kind != STREAMING_TABLE:
                raise PipelineError(
                    f"pipeline {self.key}: AUTO CDC flow {flow.name!r} ({flow.where}) targets {target.kind} {flow.target.qualified}; it needs a streaming table"
                )
            target.flows.append(flow)
        self.pending_flows = []
        for dataset in self.datasets.values():
            if not dataset.flows:
                raise PipelineError(f"pipeline {self.key}: dataset {dataset.name.qualified} ({dataset.where}) has no query and no flow writes to it")

    def check_inputs(self, root: str | Path, exists: Callable[[Path], bool]) -> None:
        """A dataset reading a table that no dataset produces and that is not in the lakehouse."""
        for dataset in self.datasets.values():
            for name in sorted(dataset.reads, key=lambda n: n.qualified):
                if name not in self.datasets and not exists(name.location(root)):
                    raise PipelineError(
                        f"pipeline {self.key}: dataset {dataset.name.qualified} ({dataset.where}) reads {name.qualified}, "
                        "which no dataset of the pipeline produces and which is not a table of the lakehouse"
                    )

    def order(self) -> list[Dataset]:
        """Datasets in dependency order (reads from outside the pipeline are not edges)."""
        done: list[Dataset] = []
        state: dict[TableName, int] = {}

        def visit(dataset: Dataset, chain: list[str]) -> None:
            mark = state.get(dataset.name)
            if mark == 2:
                return
            if mark == 1:
                raise PipelineError(f"pipeline {self.key}: datasets read each other in a cycle: {' -> '.join([*chain, dataset.name.qualified])}")
            state[dataset.name] = 1
            for name in sorted(dataset.reads, key=lambda n: n.qualified):
                if name in self.datasets:
                    visit(self.datasets[name], [*chain, dataset.name.qualified])
            state[dataset.name] = 2
            done.append(dataset)

        for dataset in self.datasets.values():
            visit(dataset, [])
        return done

    def persisted_upstream(self, dataset: Dataset) -> set[TableName]:
        """The persisted datasets `dataset` reads, looking through temporary views."""
        out: set[TableName] = set()
        stack, seen = list(dataset.reads), set()
        while stack:
            name = stack.pop()
            if name in seen or name not in self.datasets:
                continue
            seen.add(name)
            upstream = self.datasets[name]
            if upstream.persisted:
                out.add(name)
            else:
                stack.extend(upstream.reads)
        return out
