"""Configuration trees that remember which file declared each field, and Databricks' merge rules.

Every mapping/list read from a bundle file becomes an `LDict`/`LList` whose `where` records
the file of each key/item; merging keeps the file of the side that set a value, so a problem
or a relative path is attributed to the YAML that wrote it (a target override in
databricks.yml resolves against databricks.yml). Merge rules follow databricks/cli
(`libs/dyn/merge`): maps merge recursively, lists concatenate, scalars are replaced; then
`tasks` merge by `task_key` (sorted), `job_clusters` by `job_cluster_key`, `parameters` by
`name`, pipeline `clusters` by `label` (bundle/config/mutator/resourcemutator/merge_*.go).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


class LDict(dict):
    """A mapping plus `where`: key -> the file that declared it."""

    __slots__ = ("where",)

    def __init__(self, *args: Any, where: dict | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.where = dict(where or {})


class LList(list):
    """A list plus `where`: index -> the file that declared the item."""

    __slots__ = ("where",)

    def __init__(self, items: Any = (), where: list | None = None):
        super().__init__(items)
        self.where = list(where or [])


def annotate(value: Any, file: str) -> Any:
    """`value` (parsed YAML) with every mapping/list recording `file`."""
    if isinstance(value, dict):
        return LDict({k: annotate(v, file) for k, v in value.items()}, where=dict.fromkeys(value, file))
    if isinstance(value, list):
        return LList([annotate(v, file) for v in value], where=[file] * len(value))
    return value


def file_of(node: Any, key: Any, default: str) -> str:
    where = getattr(node, "where", None)
    if isinstance(node, LDict):
        return where.get(key, default)
    if isinstance(node, LList) and isinstance(key, int) and 0 <= key < len(where):
        return where[key]
    return default


def merge(a: Any, b: Any) -> Any:
    """Databricks' merge of `b` over `a`: None yields the other side, maps recurse, lists concatenate, scalars replaced.

    Raises ValueError when a map meets a non-map (or a list a non-list).
    """
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict):
        if not isinstance(b, dict):
            raise ValueError(f"cannot merge a mapping with {kind(b)}")
        out = LDict(a, where=getattr(a, "where", {}))
        for key, value in b.items():
            out[key] = merge(out[key], value) if key in out else value
            if key not in out.where or not isinstance(value, (dict, list)):
                out.where[key] = file_of(b, key, out.where.get(key, ""))
        return out
    if isinstance(a, list):
        if not isinstance(b, list):
            raise ValueError(f"cannot merge a list with {kind(b)}")
        return LList([*a, *b], where=[*_where_list(a), *_where_list(b)])
    if isinstance(b, (dict, list)):
        raise ValueError(f"cannot merge {kind(a)} with {kind(b)}")
    return b


def _where_list(items: list) -> list:
    where = getattr(items, "where", None)
    return list(where) if where is not None and len(where) == len(items) else [""] * len(items)


def kind(value: Any) -> str:
    return "a mapping" if isinstance(value, dict) else "a list" if isinstance(value, list) else type(value).__name__


def merge_by_key(items: Any, key: str, key_of: Callable[[Any], str] | None = None, *, sort: bool = False) -> Any:
    """Items of a list with the same `key` merged into the first (databricks/cli merge.ElementsByKey)."""
    if not isinstance(items, list):
        return items
    key_of = key_of or (lambda value: value if isinstance(value, str) else "" if value is None else str(value))
    seen: dict[str, Any] = {}
    files: dict[str, str] = {}
    for index, item in enumerate(items):
        name = key_of(item.get(key) if isinstance(item, dict) else None)
        if name in seen:
            seen[name] = merge(seen[name], item)
        else:
            seen[name] = item
            files[name] = file_of(items, index, "")
    names = sorted(seen) if sort else list(seen)
    return LList([seen[n] for n in names], where=[files[n] for n in names])


_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_path(path: str) -> list[str | int]:
    """`a.b[0].c` -> ['a', 'b', 0, 'c']."""
    return [name if name else int(index) for name, index in _SEGMENT.findall(path)]


def locate(tree: Any, path: str, default: str) -> str:
    """The file that declared the deepest known part of `path` in `tree`."""
    node, file = tree, default
    for part in split_path(path):
        if isinstance(node, dict) and part in node or isinstance(node, list) and isinstance(part, int) and part < len(node):
            file = file_of(node, part, file) or file
            node = node[part]
        else:
            break
    return file


def plain(value: Any) -> Any:
    """The tree as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
