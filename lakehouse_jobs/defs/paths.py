"""Where the example lakehouse lives by default: the repo's data/ folder."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def lakehouse_root() -> str:
    return os.environ.get("LAKEHOUSE_ROOT") or str(REPO_ROOT / "data")
