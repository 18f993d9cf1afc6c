"""Pipeline test helpers: the fixture pipelines, their landing files under a test's lakehouse root."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
ORDERS_A = "order_id,customer,amount\n1,alice,10\n2,bob,-5\n3,,7\n4,alice,20\n"
ORDERS_B = "order_id,customer,amount\n5,bob,8\n"
CUSTOMERS = "customer_id,name,seq,op\n1,Alice,1,UPSERT\n2,Bob,1,UPSERT\n1,Alice B,2,UPSERT\n3,Carol,1,UPSERT\n3,Carol,2,DELETE\n"


def land(root: str | Path, folder: str, name: str, text: str) -> Path:
    """A file in the volume /Volumes/main/raw/landing/<folder> (= <root>/volumes/main/raw/landing/<folder>)."""
    path = Path(root) / "volumes" / "main" / "raw" / "landing" / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def landed(lakehouse):
    land(lakehouse.root, "orders", "a.csv", ORDERS_A)
    land(lakehouse.root, "customers", "a.csv", CUSTOMERS)
    return lakehouse


def python_settings(schema: str = "silver") -> dict:
    return {
        "name": "orders python",
        "libraries": [{"glob": {"include": "python_pipeline/**"}}],
        "catalog": "main",
        "schema": schema,
        "configuration": {"landing": "/Volumes/main/raw/landing"},
        "development": True,
        "continuous": False,
        "channel": "CURRENT",
        "photon": False,
        "serverless": True,
    }


def sql_settings(schema: str = "gold") -> dict:
    return {
        "name": "orders sql",
        "libraries": [{"file": {"path": str(FIXTURES / "sql_pipeline" / "pipeline.sql")}}],
        "target": schema,
        "configuration": {"landing": "/Volumes/main/raw/landing"},
    }


@pytest.fixture
def instance():
    """A throwaway Dagster instance (its own temp storage) for one test."""
    import dagster as dg

    with dg.instance_for_test() as instance:
        yield instance
