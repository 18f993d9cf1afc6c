"""Seeded, deterministic landing files for the example lakehouse (and the benchmark).

Three sources, as producers would drop them:
  orders/      CSV   order_id,customer_id,order_ts,product_id,quantity,unit_price,status
  clickstream/ JSONL event_id,customer_id,event_ts,event_type,page,session_id
  customers/   CSV   change feed: customer_id,name,email,country,segment,operation,sequence_num,changed_at

Real-world mess is injected on purpose and at a fixed rate: re-sent duplicates,
unparsable values, broken JSON lines, and change events delivered out of order.
Some customers stop buying part-way through (the churn signal the model learns).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

START = datetime(2026, 1, 1)
DAYS = 90
COUNTRIES = ["DE", "FR", "NL", "US", "GB", "ES"]
SEGMENTS = ["consumer", "smb", "enterprise"]
PAGES = ["/", "/search", "/product", "/cart", "/checkout", "/help"]
ORDER_COLUMNS = ["order_id", "customer_id", "order_ts", "product_id", "quantity", "unit_price", "status"]
EVENT_COLUMNS = ["event_id", "customer_id", "event_ts", "event_type", "page", "session_id"]
CUSTOMER_COLUMNS = ["customer_id", "name", "email", "country", "segment", "operation", "sequence_num", "changed_at"]


@dataclass(frozen=True)
class GenerateConfig:
    orders: int = 400
    customers: int = 60
    events: int = 1500
    files: int = 3
    seed: int = 42
    malformed_rate: float = 0.02
    duplicate_rate: float = 0.02


@dataclass
class _Customer:
    customer_id: int
    weight: float
    active_until: int  # day index after which the customer no longer buys or browses


def _ts(rng: random.Random, last_day: int) -> datetime:
    return START + timedelta(days=rng.randrange(max(1, last_day)), seconds=rng.randrange(86400))


def _split(rows: list, files: int) -> list[list]:
    size = max(1, -(-len(rows) // files))
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def _customers(cfg: GenerateConfig, rng: random.Random) -> list[_Customer]:
    people = []
    for cid in range(1, cfg.customers + 1):
        churns = rng.random() < 0.3
        people.append(_Customer(cid, rng.uniform(0.2, 2.0), rng.randrange(20, DAYS - 35) if churns else DAYS))
    return people


def _picker(people: list[_Customer]) -> Callable[[random.Random], _Customer]:
    """Weighted choice of a customer in O(log n): the cumulative weights are built once, not per row."""
    cumulative = list(itertools.accumulate(p.weight for p in people))
    return lambda rng: rng.choices(people, cum_weights=cumulative)[0]  # same draws as weights=...


def order_rows(cfg: GenerateConfig, rng: random.Random, people: list[_Customer]) -> list[list[str]]:
    rows, pick = [], _picker(people)
    for oid in range(1, cfg.orders + 1):
        who = pick(rng)
        row = [
            str(oid),
            str(who.customer_id),
            _ts(rng, who.active_until).strftime("%Y-%m-%dT%H:%M:%S"),
            f"P{rng.randrange(1, 50):03d}",
            str(rng.randrange(1, 6)),
            f"{rng.uniform(2, 250):.2f}",
            rng.choices(["completed", "cancelled"], weights=[9, 1])[0],
        ]
        if rng.random() < cfg.malformed_rate:
            column = rng.choice([2, 4, 5])
            row[column] = {2: "not-a-date", 4: "two", 5: "12,50€"}[column]
        rows.append(row)
    rows += [list(r) for r in rng.sample(rows, int(len(rows) * cfg.duplicate_rate))]
    rng.shuffle(rows)
    return rows


def event_lines(cfg: GenerateConfig, rng: random.Random, people: list[_Customer]) -> list[str]:
    lines, pick = [], _picker(people)
    for eid in range(1, cfg.events + 1):
        who = pick(rng)
        record = {
            "event_id": f"e{eid:08d}",
            "customer_id": who.customer_id,
            "event_ts": _ts(rng, who.active_until).strftime("%Y-%m-%dT%H:%M:%S"),
            "event_type": rng.choices(["page_view", "add_to_cart", "purchase"], weights=[7, 2, 1])[0],
            "page": rng.choice(PAGES),
            "session_id": f"s{who.customer_id}-{rng.randrange(8)}",
        }
        line = json.dumps(record)
        roll = rng.random()
        if roll < cfg.malformed_rate / 2:
            line = line[: len(line) // 2]  # truncated JSON: the producer died mid-write
        elif roll < cfg.malformed_rate:
            record["event_ts"] = "yesterday"
            line = json.dumps(record)
        lines.append(line)
    lines += rng.sample(lines, int(len(lines) * cfg.duplicate_rate))
    rng.shuffle(lines)
    return lines


def customer_rows(cfg: GenerateConfig, rng: random.Random, people: list[_Customer]) -> list[list[str]]:
    rows, seq = [], 0
    for person in people:
        seq += 1
        country, segment = rng.choice(COUNTRIES), rng.choice(SEGMENTS)
        base = [str(person.customer_id), f"Customer {person.customer_id}", f"c{person.customer_id}@example.com"]
        rows.append([*base, country, segment, "INSERT", str(seq), START.isoformat()])
    for person in rng.sample(people, len(people) // 3):  # updates: move country or segment
        seq += 1
        base = [str(person.customer_id), f"Customer {person.customer_id}", f"c{person.customer_id}.new@example.com"]
        rows.append([*base, rng.choice(COUNTRIES), rng.choice(SEGMENTS), "UPDATE", str(seq), (START + timedelta(days=30)).isoformat()])
    for person in rng.sample(people, max(1, len(people) // 20)):  # deletes (right to be forgotten)
        seq += 1
        rows.append([str(person.customer_id), "", "", "", "", "DELETE", str(seq), (START + timedelta(days=60)).isoformat()])
    for row in rng.sample(rows, max(1, int(len(rows) * cfg.malformed_rate))):
        row[6] = "seq-" + row[6]  # unparsable sequence number
    rng.shuffle(rows)  # change events arrive out of order; sequence_num decides
    return rows


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def generate(landing: Path, cfg: GenerateConfig = GenerateConfig(), prefix: str = "part") -> dict[str, list[Path]]:
    """Write the three sources under `landing/<source>/`; return the files written."""
    rng = random.Random(cfg.seed)  # noqa: S311 - sample data, seeded so the same seed gives the same bytes
    people = _customers(cfg, rng)
    written: dict[str, list[Path]] = {"orders": [], "clickstream": [], "customers": []}
    for source in written:
        (landing / source).mkdir(parents=True, exist_ok=True)
    for i, chunk in enumerate(_split(customer_rows(cfg, rng, people), cfg.files)):
        path = landing / "customers" / f"{prefix}-{i:04d}.csv"
        _write_csv(path, CUSTOMER_COLUMNS, chunk)
        written["customers"].append(path)
    for i, chunk in enumerate(_split(order_rows(cfg, rng, people), cfg.files)):
        path = landing / "orders" / f"{prefix}-{i:04d}.csv"
        _write_csv(path, ORDER_COLUMNS, chunk)
        written["orders"].append(path)
    for i, chunk in enumerate(_split(event_lines(cfg, rng, people), cfg.files)):
        path = landing / "clickstream" / f"{prefix}-{i:04d}.jsonl"
        path.write_text("".join(line + "\n" for line in chunk), encoding="utf-8")
        written["clickstream"].append(path)
    return written


def _generate_command(args: argparse.Namespace) -> int:
    from lakehouse_jobs.defs.paths import lakehouse_root

    root = Path(args.root or lakehouse_root())
    cfg = GenerateConfig(args.orders, args.customers, args.events, args.files, args.seed, args.malformed_rate, args.duplicate_rate)
    written = generate(root / "landing", cfg, prefix=args.prefix)
    for source, files in written.items():
        print(f"{source}: {len(files)} file(s) under {root / 'landing' / source}")
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """`lakehouse-jobs generate`: the example's subcommand, added to the plugin's CLI (a lakehouse_jobs.lib.cli hook)."""
    gen = commands.add_parser("generate", help="write seeded sample landing files")
    gen.add_argument("--orders", type=int, default=400)
    gen.add_argument("--customers", type=int, default=60)
    gen.add_argument("--events", type=int, default=1500)
    gen.add_argument("--files", type=int, default=3, help="files per source")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--malformed-rate", type=float, default=0.02)
    gen.add_argument("--duplicate-rate", type=float, default=0.02)
    gen.add_argument("--prefix", default="part", help="file name prefix (new batches need a new one)")
    gen.add_argument("--root", help="lakehouse root (default $LAKEHOUSE_ROOT or data/)")
    gen.set_defaults(func=_generate_command)
