"""An independent pandas computation of the example lakehouse from the landing files.

It shares no code with the Spark pipeline (only the file layout and the written
specification), so the end-to-end tests compare two implementations.
"""

from __future__ import annotations

import csv
import json
import re
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd

_INT = re.compile(r"[+-]?\d+")
_DEC = re.compile(r"[+-]?\d+(\.\d+)?")


def _int(raw):
    return int(raw.strip()) if raw is not None and _INT.fullmatch(raw.strip()) else None


def _dec(raw):
    return Decimal(raw.strip()).quantize(Decimal("0.01")) if raw is not None and _DEC.fullmatch(raw.strip()) else None


def _ts(raw):
    try:
        return datetime.fromisoformat(raw.strip()) if raw is not None else None
    except ValueError:
        return None


def _blank(raw) -> bool:
    return raw is None or str(raw).strip() == ""


def _csv_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                rows.append({k: (None if v == "" else v) for k, v in row.items()})
    return rows


def _typed(rows: list[dict], parsers: dict, required: list[str]) -> tuple[list[dict], int]:
    good, bad = [], 0
    for row in rows:
        typed = dict(row)
        broken = False
        for column, parse in parsers.items():
            typed[column] = parse(row.get(column))
            broken |= typed[column] is None and not _blank(row.get(column))
        broken |= any(typed.get(c) is None for c in required)
        if broken:
            bad += 1
        else:
            good.append(typed)
    return good, bad


def orders(landing: Path) -> tuple[pd.DataFrame, dict]:
    raw = _csv_rows(landing / "orders")
    good, bad = _typed(
        raw, {"order_id": _int, "customer_id": _int, "order_ts": _ts, "quantity": _int, "unit_price": _dec}, ["order_id", "customer_id", "order_ts"]
    )
    df = pd.DataFrame(good).drop_duplicates("order_id")
    df["order_date"] = df["order_ts"].map(lambda t: t.date())
    df["amount"] = [
        (Decimal(q) * p).quantize(Decimal("0.01")) if q is not None and p is not None else None for q, p in zip(df["quantity"], df["unit_price"], strict=False)
    ]
    df["status"] = df["status"].str.strip().str.lower()
    counts = {"rows_read": len(raw), "rows_dropped_malformed": bad, "duplicates_removed": len(good) - len(df)}
    return df.sort_values("order_id").reset_index(drop=True), counts


def events(landing: Path) -> tuple[pd.DataFrame, dict]:
    raw = []
    for path in sorted(landing.joinpath("clickstream").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                raw.append({k: None if v is None else str(v) for k, v in record.items()})
            except json.JSONDecodeError:
                raw.append({"event_id": None, "customer_id": None, "event_ts": None})
    good, bad = _typed(raw, {"customer_id": _int, "event_ts": _ts}, ["event_id", "customer_id", "event_ts"])
    df = pd.DataFrame(good).drop_duplicates("event_id")
    df["event_date"] = df["event_ts"].map(lambda t: t.date())
    df["event_type"] = df["event_type"].str.strip().str.lower()
    counts = {"rows_read": len(raw), "rows_dropped_malformed": bad, "duplicates_removed": len(good) - len(df)}
    return df.sort_values("event_id").reset_index(drop=True), counts


def customers(landing: Path) -> tuple[pd.DataFrame, dict]:
    raw = _csv_rows(landing / "customers")
    good, bad = _typed(raw, {"customer_id": _int, "sequence_num": _int, "changed_at": _ts}, ["customer_id", "sequence_num"])
    latest = pd.DataFrame(good).sort_values("sequence_num").groupby("customer_id").tail(1)
    deleted = latest["operation"].str.strip().str.upper() == "DELETE"
    current = latest[~deleted].sort_values("customer_id").reset_index(drop=True)
    return current, {"rows_read": len(raw), "rows_dropped_malformed": bad, "customers_deleted": int(deleted.sum())}


def _round(value: Decimal, places: str = "0.01") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def daily_revenue(orders_df: pd.DataFrame) -> pd.DataFrame:
    done = orders_df[orders_df["status"] == "completed"]
    out = done.groupby("order_date").agg(orders=("order_id", "size"), customers=("customer_id", "nunique"), revenue=("amount", "sum")).reset_index()
    out["avg_order_value"] = [_round(r / n) for r, n in zip(out["revenue"], out["orders"], strict=False)]
    return out.sort_values("order_date").reset_index(drop=True)


def event_funnel(events_df: pd.DataFrame) -> pd.DataFrame:
    kinds = {f"{k}s": (events_df["event_type"] == k).astype(int) for k in ("page_view", "add_to_cart", "purchase")}
    frame = events_df.assign(**kinds)
    out = frame.groupby("event_date").agg(
        page_views=("page_views", "sum"), add_to_carts=("add_to_carts", "sum"), purchases=("purchases", "sum"), sessions=("session_id", "nunique")
    )
    out["view_to_purchase_rate"] = (out["purchases"] / out["page_views"].where(out["page_views"] > 0)).round(4)  # NaN without views
    return out.reset_index().sort_values("event_date").reset_index(drop=True)


def customer_features(customers_df: pd.DataFrame, orders_df: pd.DataFrame, events_df: pd.DataFrame) -> pd.DataFrame:
    done = orders_df[orders_df["status"] == "completed"]
    dates = list(done["order_date"]) + list(events_df["event_date"])
    reference = max(dates) + timedelta(days=1)
    cutoff = reference - timedelta(days=30)
    observed = (cutoff - min(dates)).days + 1
    rows = []
    for _, c in customers_df.iterrows():
        mine = done[(done["customer_id"] == c["customer_id"]) & (done["order_date"] < cutoff)]
        seen = events_df[(events_df["customer_id"] == c["customer_id"]) & (events_df["event_date"] < cutoff)]
        later = ((done["customer_id"] == c["customer_id"]) & (done["order_date"] >= cutoff)).any() or (
            (events_df["customer_id"] == c["customer_id"]) & (events_df["event_date"] >= cutoff)
        ).any()
        monetary = sum(mine["amount"], Decimal("0"))
        rows.append(
            {
                "customer_id": c["customer_id"],
                "country": c["country"],
                "segment": c["segment"],
                "recency_days": (cutoff - mine["order_date"].max()).days if len(mine) else observed,
                "frequency": len(mine),
                "monetary": monetary,
                "avg_order_value": _round(monetary / len(mine)) if len(mine) else Decimal("0.00"),
                "events": len(seen),
                "page_views": int((seen["event_type"] == "page_view").sum()),
                "add_to_carts": int((seen["event_type"] == "add_to_cart").sum()),
                "sessions": seen["session_id"].nunique(),
                "days_since_last_event": (cutoff - seen["event_date"].max()).days if len(seen) else observed,
                "churned": 0 if later else 1,
                "feature_cutoff_date": cutoff,
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- the lakehouse's tables against the oracle


def delta_table(path: Path) -> pd.DataFrame | None:
    """A Delta table read with delta-rs (not Spark), None until it exists."""
    from deltalake import DeltaTable

    try:
        return DeltaTable(str(path)).to_pandas()
    except Exception:  # noqa: BLE001 - not created yet
        return None


def gold_orders_match(root: Path) -> bool:
    """gold/daily_revenue of the lakehouse at `root` is the oracle's over its landed orders."""
    actual = delta_table(root / "gold/daily_revenue")
    if actual is None:
        return False
    expected = daily_revenue(orders(root / "landing")[0])
    actual = actual.sort_values("order_date").reset_index(drop=True)
    columns = ["order_date", "orders", "customers", "revenue", "avg_order_value"]
    return len(actual) == len(expected) and all(list(actual[c]) == list(expected[c]) for c in columns)


def assert_orders_tables_match(root: Path) -> None:
    """silver/orders and gold/daily_revenue at `root` are the oracle's over the landed orders."""
    expected, counts = orders(root / "landing")
    assert counts["rows_dropped_malformed"] > 0 and counts["duplicates_removed"] > 0
    silver = delta_table(root / "silver/orders").sort_values("order_id").reset_index(drop=True)
    for column in ["order_id", "customer_id", "order_date", "product_id", "quantity", "unit_price", "amount", "status"]:
        assert list(silver[column]) == list(expected[column]), column
    assert list(silver["order_ts"].dt.tz_convert(None)) == list(pd.to_datetime(expected["order_ts"]))
    assert gold_orders_match(root)
