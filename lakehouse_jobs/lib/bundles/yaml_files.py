"""Reading YAML/JSON files safely: one sentence for a binary file or an alias bomb, never a traceback.

YAML aliases make a 1 KB document expand into billions of nodes ("billion laughs") once
anything walks it (merging, substitution, validation). The node graph is composed first
and its expanded size counted (shared nodes counted per use, memoised, so the count
itself is cheap); past `MAX_NODES` the file is refused before anything expands it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lakehouse_jobs.lib.bundles.problems import BundleError

LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_NODES = 1_000_000


def read_yaml(path: str | Path) -> Any:
    """The content of a YAML/JSON file (JSON is YAML); BundleError with one line on any problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError([(str(path), f"cannot read the file: {exc.strerror or exc}")], str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError([(str(path), f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})")], str(path)) from None
    if "\x00" in text:
        raise BundleError([(str(path), f"not UTF-8 text (byte 0x00 at offset {text.index(chr(0))})")], str(path))
    return parse_yaml(text, str(path))


def parse_yaml(text: str, source: str) -> Any:
    loader = LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        size = expanded_size(node)
        if size > MAX_NODES:
            raise BundleError([(source, f"YAML aliases expand past {MAX_NODES:,} nodes (alias bomb?)")], source)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise BundleError([(source, f"not valid YAML/JSON{where}: {getattr(exc, 'problem', None) or exc}")], source) from None
    except RecursionError:
        raise BundleError([(source, "YAML nested too deeply or an alias refers to itself")], source) from None
    finally:
        loader.dispose()


def expanded_size(root: yaml.Node) -> int:
    """How many nodes `root` has once every alias is expanded (stops counting past MAX_NODES)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise RecursionError("an alias refers to the node that contains it")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for item in node.value:
                total += size(item)
                if total > MAX_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += size(k) + size(v)
                if total > MAX_NODES:
                    break
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)
