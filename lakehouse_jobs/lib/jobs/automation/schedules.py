"""Databricks `schedule` (Quartz cron) -> Dagster ScheduleDefinition.

Quartz has a seconds field, an optional year, `?`, `L`, `W`, `#` and counts
days of the week 1=SUN..7=SAT; Dagster takes 5-field cron (0=SUN) and fires at
most once a minute. Each field is expanded to its set of values (Quartz's own
rules, wrap-around ranges included) and written back as canonical cron, so what
runs is exactly what Quartz would run — or the expression is refused, naming
what cannot be expressed.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass

import dagster as dg

from lakehouse_jobs.lib.jobs.automation.fields import Problems, at, checked, paused
from lakehouse_jobs.lib.jobs.concurrency import concurrency_policy
from lakehouse_jobs.lib.jobs.fields import unknown as unknown_fields
from lakehouse_jobs.lib.jobs.result_states import JOB_KEY_TAG, TRIGGER_TYPE_TAG

CRON_TRIGGER = "cron"
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # names[i] == low + i


_FIELDS = (
    _Field("seconds", 0, 59),
    _Field("minutes", 0, 59),
    _Field("hours", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, MONTHS),
    _Field("day-of-week", 1, 7, DAYS),
    _Field("year", 1970, 2099),
)


def _value(text: str, field: _Field) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.low + field.names.index(upper)
    if not text.isdigit():
        raise ValueError(f"{field.name}: {text!r} is not a number{' or name' if field.names else ''}")
    value = int(text)
    if not field.low <= value <= field.high:
        raise ValueError(f"{field.name}: {value} is outside {field.low}-{field.high}")
    return value


def _expand(text: str, field: _Field) -> set[int]:
    """The values a Quartz field matches (raises ValueError naming the problem)."""
    bare = text.upper()
    for name in field.names:
        bare = bare.replace(name, "")
    for special, meaning in (("L", "'L' (last)"), ("W", "'W' (nearest weekday)"), ("#", "'#' (nth weekday of the month)")):
        if special in bare:
            raise ValueError(f"{field.name}: {meaning} cannot be expressed as a Dagster cron schedule")
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise ValueError(f"{field.name}: empty list element in {text!r}")
        base, _, step_text = part.partition("/")
        step = 1
        if _:
            if not step_text.isdigit() or not 1 <= int(step_text) <= field.high - field.low + 1:
                raise ValueError(f"{field.name}: bad increment {step_text!r} in {part!r}")
            step = int(step_text)
        if base in ("*", ""):
            start, stop = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _value(first, field), _value(last, field)
            if stop < start:  # Quartz wraps around (e.g. FRI-MON, 22-2)
                if field.name == "year":
                    raise ValueError(f"{field.name}: range {base!r} ends before it starts")
                stop += field.high - field.low + 1
        else:
            start = _value(base, field)
            stop = field.high if _ else start  # "5/15" = from 5 every 15
        span = field.high - field.low + 1
        values.update(field.low + (v - field.low) % span for v in range(start, stop + 1, step))
    return values


def _render(values: set[int], field: _Field, shift: int = 0) -> str:
    """Canonical cron text for a set of values (shift converts Quartz day numbers)."""
    full = set(range(field.low, field.high + 1))
    if values == full:
        return "*"
    ordered = sorted(v + shift for v in values)
    low = field.low + shift
    if len(ordered) > 2 and ordered[0] == low:
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(low, field.high + shift + 1, step)):
            return f"*/{step}"
    parts, run = [], [ordered[0]]
    for value in ordered[1:]:
        if value == run[-1] + 1:
            run.append(value)
        else:
            parts.append(run)
            run = [value]
    parts.append(run)
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]},{r[1]}" if len(r) == 2 else f"{r[0]}-{r[-1]}" for r in parts)


def _convert(expr: str) -> str:
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError("a Quartz cron expression is required, e.g. '0 0 1 * * ?'")
    parts = expr.split()
    if len(parts) not in (6, 7):
        raise ValueError(f"expected 6 or 7 fields (seconds minutes hours day-of-month month day-of-week [year]), got {len(parts)}")
    dom, dow = parts[3], parts[5]
    if (dom == "?") == (dow == "?"):
        raise ValueError("exactly one of day-of-month and day-of-week must be '?' (Quartz rule)")
    for index, text in enumerate(parts):
        if text == "?" and index not in (3, 5):
            raise ValueError(f"{_FIELDS[index].name}: '?' is only allowed in day-of-month or day-of-week")
    sets = [set() if text == "?" else _expand(text, field) for text, field in zip(parts, _FIELDS, strict=False)]
    if sets[0] != {0}:
        raise ValueError(f"seconds: {parts[0]!r} cannot be expressed; Dagster schedules fire at most once a minute, use 0")
    if len(parts) == 7 and sets[6] != set(range(1970, 2100)):
        raise ValueError(f"year: {parts[6]!r} cannot be expressed as a Dagster cron schedule; use '*' or leave it out")
    fields = [_render(sets[1], _FIELDS[1]), _render(sets[2], _FIELDS[2])]
    fields.append("*" if dom == "?" else _render(sets[3], _FIELDS[3]))
    fields.append(_render(sets[4], _FIELDS[4]))
    fields.append("*" if dow == "?" else _render(sets[5], _FIELDS[5], shift=-1))
    return " ".join(fields)


def quartz_problems(expr: str) -> list[str]:
    """Why `expr` cannot become a Dagster schedule (empty when it can)."""
    try:
        _convert(expr)
    except ValueError as error:
        return [str(error)]
    return []


def _cron(problems: Problems, expr: object, path: str) -> str:
    if not isinstance(expr, str) or not expr.strip():
        problems.append((path, "missing: a Quartz cron expression such as '0 0 1 * * ?'"))
        return ""
    try:
        return _convert(expr)
    except ValueError as error:
        problems.append((path, f"{expr!r}: {error}"))
        return ""


def quartz_to_cron(expr: str, path: str = "schedule.quartz_cron_expression") -> str:
    """The 5-field cron string firing exactly when the Quartz expression does."""
    problems: Problems = []
    return checked((_cron(problems, expr, path), problems))


def _known_zone(timezone_id: object) -> bool:
    """Databricks timezone ids are Java/IANA zone names, which zoneinfo loads."""
    try:
        zoneinfo.ZoneInfo(timezone_id)  # type: ignore[arg-type]
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return False
    return True


@dataclass(frozen=True)
class ScheduleSection:
    """A checked `schedule`: the Quartz text, its cron equivalent, the zone and whether it starts paused."""

    quartz: str
    cron: str
    timezone: str
    paused: bool


SCHEDULE_FIELDS = ("quartz_cron_expression", "timezone_id", "pause_status")


def parse_schedule(schedule: object, path: str = "schedule") -> tuple[ScheduleSection | None, Problems]:
    """The one reader of a `schedule` section: `validate` reports its problems, compile_schedule raises them."""
    if not isinstance(schedule, Mapping):
        return None, [(path, "expected {quartz_cron_expression, timezone_id, pause_status}")]
    problems: Problems = []
    unknown_fields(problems, schedule, path, SCHEDULE_FIELDS)
    expr = schedule.get("quartz_cron_expression")
    cron = _cron(problems, expr, at(path, "quartz_cron_expression"))
    zone = schedule.get("timezone_id", "UTC")
    zone = "UTC" if zone is None else zone
    if not _known_zone(zone):
        problems.append((at(path, "timezone_id"), f"unknown time zone {zone!r}; use an IANA name such as 'Europe/Paris' or 'UTC'"))
    return ScheduleSection(expr, cron, zone, paused(problems, schedule, path)), problems


def trigger_tags(trigger_type: str, job_key: str) -> dict[str, str]:
    return {TRIGGER_TYPE_TAG: trigger_type, JOB_KEY_TAG: job_key}


def compile_schedule(job_name: str, schedule: Mapping, *, job_key: str, job: Mapping | None = None) -> dg.ScheduleDefinition:
    """A Dagster schedule for a Databricks `schedule` object.

    With `job` (the whole job dict) the schedule also applies its
    max_concurrent_runs/queue policy: tags for the run queue, and a skip when
    the limit is reached and queueing is off.
    """
    section = checked(parse_schedule(schedule))
    policy = concurrency_policy(job or {}, job_key=job_key)
    tags = {**policy.tags, **trigger_tags(CRON_TRIGGER, job_key)}

    def evaluate(context: dg.ScheduleEvaluationContext):
        reason = policy.skip_reason(context.instance, job_name)
        if reason:
            return dg.SkipReason(reason)
        return dg.RunRequest(tags=tags)

    return dg.ScheduleDefinition(
        name=f"{job_name}_schedule",
        cron_schedule=section.cron,
        job_name=job_name,
        execution_timezone=section.timezone,
        default_status=dg.DefaultScheduleStatus.STOPPED if section.paused else dg.DefaultScheduleStatus.RUNNING,
        execution_fn=evaluate,
        tags=tags,
        description=f"Quartz {section.quartz!r} ({section.timezone})",
    )
