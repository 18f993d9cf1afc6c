"""Names reach paths and SQL only after validation; errors name the bad field."""

from __future__ import annotations

import pytest

from lakehouse_jobs.lib import LakehouseResource, SpecError
from lakehouse_jobs.lib.names import quote, validate_columns, validate_layer, validate_table_name


@pytest.mark.parametrize("name", ["../etc", "Orders", "1orders", "orders; drop", "a" * 200, "", "or-ders"])
def test_bad_table_names_are_refused(name):
    with pytest.raises(SpecError, match=r"^name: invalid table name"):
        validate_table_name(name)


def test_layers_are_the_medallion_ones():
    assert validate_layer("gold") == "gold"
    with pytest.raises(SpecError, match="unknown layer 'platinum'"):
        validate_layer("platinum")


def test_columns_validated_with_index_path_and_quoted():
    with pytest.raises(SpecError, match=r"^merge_keys\[1\]: invalid column name"):
        validate_columns(["id", "x`; DROP"], "merge_keys")
    with pytest.raises(SpecError, match="duplicate"):
        validate_columns(["id", "id"], "merge_keys")
    assert quote("order_id") == "`order_id`"


def test_table_paths_stay_under_the_root(tmp_path):
    lake = LakehouseResource(root=str(tmp_path))
    assert lake.table_path("silver", "orders") == tmp_path.resolve() / "silver" / "orders"
    assert lake.landing_path("orders") == tmp_path.resolve() / "landing" / "orders"
    with pytest.raises(SpecError):
        lake.table_path("silver", "../../etc")
    with pytest.raises(SpecError):
        lake.system_path("..", "x")


def test_symlink_escape_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    root = tmp_path / "lake"
    (root / "landing").mkdir(parents=True)
    (root / "landing" / "orders").symlink_to(outside)
    with pytest.raises(SpecError, match="outside the lakehouse root"):
        LakehouseResource(root=str(root)).landing_path("orders")


# `$` matches before a final newline: every name pattern is a full match. A name with a control
# character anywhere (a trailing newline above all) is refused before it reaches a folder or SQL.
CONTROL = ["\n", "\r", "\t", "\x00", "\x1f", "\x7f"]
PLACES = [lambda c: f"orders{c}", lambda c: f"ord{c}ers", lambda c: f"{c}orders"]


@pytest.mark.parametrize("char", CONTROL, ids=repr)
@pytest.mark.parametrize("place", PLACES, ids=["end", "middle", "start"])
def test_control_characters_refused_in_table_column_and_layer_names(char, place):
    name = place(char)
    with pytest.raises(SpecError, match="invalid table name"):
        validate_table_name(name)
    with pytest.raises(SpecError, match="invalid column name"):
        validate_columns(["id", name], "columns")
    with pytest.raises(SpecError, match="unknown layer"):
        validate_layer(f"silver{char}")


def test_a_trailing_newline_never_becomes_a_table_folder(tmp_path):
    lake = LakehouseResource(root=str(tmp_path))
    with pytest.raises(SpecError, match="invalid table name"):
        lake.table_path("silver", "evil\n")
    assert not any(tmp_path.rglob("*evil*"))
