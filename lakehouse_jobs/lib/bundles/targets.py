"""Targets: choosing one, merging its overrides, deployment modes and presets (Databricks' rules).

Choice (bundle/config/mutator/select_default_target.go): `--target`; else the only target;
else the one with `default: true`; no `targets` at all means one implicit target `default`.
The chosen target's `bundle`, `workspace`, `artifacts`, `resources`, `sync`, `permissions`,
`presets` merge into the top level (maps recursively, lists concatenated); `variables`,
`run_as`, `mode`, `cluster_id` replace; `git` merges into `bundle.git` (bundle/config/root.go).
Then tasks/job clusters/parameters/pipeline clusters merge by key (tree.merge_by_key).
`mode: development` (apply_target_mode.go) sets the presets a user did not set: name prefix
`[dev <short_name>] `, tag `dev: <short_name>`, `max_concurrent_runs` 4, triggers paused,
pipelines in development; presets apply as apply_presets.go does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lakehouse_jobs.lib.bundles.problems import Problems
from lakehouse_jobs.lib.bundles.tree import LDict, file_of, merge, merge_by_key

MERGED = ("bundle", "workspace", "artifacts", "resources", "sync", "permissions", "presets")
TARGET_FIELDS = (*MERGED, "variables", "run_as", "mode", "cluster_id", "compute_id", "git", "default")
MODES = ("development", "production")
PAUSE = ("PAUSED", "UNPAUSED")


def choose(config: dict, requested: str | None, root: Path, problems: Problems) -> tuple[str, dict]:
    """(target name, its definition) — an empty definition for the implicit `default` target."""
    targets = config.get("targets")
    if targets is None and config.get("environments") is not None:
        targets = config["environments"]  # the section's old name
    if targets is None:
        targets = {}
    if not isinstance(targets, dict):
        problems.add(root, "targets", "expected a mapping of target names to targets")
        return requested or "default", {}
    if requested:
        if requested not in targets:
            problems.add(root, "--target", f"{requested}: no such target; the bundle declares {', '.join(targets) or 'none'}")
            return requested, {}
        return requested, targets[requested] or {}
    if not targets:
        return "default", {}
    if len(targets) == 1:
        name = next(iter(targets))
        return name, targets[name] or {}
    defaults = [name for name, target in targets.items() if isinstance(target, dict) and target.get("default") is True]
    if len(defaults) > 1:
        problems.add(root, "targets", f"several targets are marked default: true ({', '.join(defaults)})")
    elif not defaults:
        problems.add(root, "targets", f"no target is marked default: true; choose one with --target ({', '.join(targets)})")
    return (defaults[0], targets[defaults[0]] or {}) if defaults else ("default", {})


def apply(config: dict, name: str, target: Any, root: Path, problems: Problems) -> dict:
    """`config` with target `name`'s overrides merged (variables are handled by variables.py)."""
    file = file_of(config.get("targets") or config.get("environments") or {}, name, str(root))
    if not isinstance(target, dict):
        problems.add(file, f"targets.{name}", "expected a mapping (mode, default, variables, resources...)")
        return config
    for key in target:
        if key not in TARGET_FIELDS:
            problems.warn(file, f"targets.{name}.{key}", f"unknown target field, ignored; known: {', '.join(TARGET_FIELDS)}")
    for field in MERGED:
        if target.get(field) is not None:
            try:
                config[field] = merge(config.get(field), target[field])
            except ValueError as exc:
                problems.add(file, f"targets.{name}.{field}", str(exc))
            config.where.setdefault(field, file)
    bundle = config.setdefault("bundle", LDict(where={}))
    if not isinstance(bundle, dict):
        problems.add(root, "bundle", "expected a mapping (name...)")
        return config
    if target.get("run_as") is not None:
        config["run_as"] = target["run_as"]
    for field in ("mode", "cluster_id", "compute_id"):
        if target.get(field) is not None:
            bundle[field] = target[field]
    if target.get("git") is not None:
        bundle["git"] = merge(bundle.get("git"), target["git"])
    mode = bundle.get("mode")
    if mode is not None and mode not in MODES:
        problems.add(file, f"targets.{name}.mode", f"unknown mode {mode!r}; known: {', '.join(MODES)}")
    bundle["target"] = name
    bundle["environment"] = name  # the old name of bundle.target
    return config


def merge_keys(config: dict, root: Path, problems: Problems) -> None:
    """Tasks by task_key (sorted, as databricks/cli), job clusters by job_cluster_key, parameters by name, pipeline clusters by label."""
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    rules = {
        "jobs": (("tasks", "task_key", True), ("job_clusters", "job_cluster_key", False), ("parameters", "name", False)),
        "pipelines": (("clusters", "label", False),),
    }
    for kind, fields in rules.items():
        entries = resources.get(kind) if isinstance(resources.get(kind), dict) else {}
        for key, resource in entries.items():
            if not isinstance(resource, dict):
                continue
            for field, by, sort in fields:
                if field not in resource:
                    continue
                key_of = (lambda v: str(v).lower() if v is not None else "default") if field == "clusters" else None
                try:
                    resource[field] = merge_by_key(resource[field], by, key_of, sort=sort)
                except ValueError as exc:
                    problems.add(file_of(entries, key, str(root)), f"resources.{kind}.{key}.{field}", f"entries with the same {by} cannot merge: {exc}")


def development_presets(config: dict, short_name: str) -> None:
    """The presets `mode: development` implies, where the user set none."""
    if config.get("presets") is None:
        config["presets"] = LDict(where={})
    presets = config["presets"]
    if not isinstance(presets, dict):
        return  # apply_presets reports it
    presets.setdefault("name_prefix", f"[dev {short_name}] ")
    if presets.get("tags") is None:
        presets["tags"] = LDict(where={})
    if isinstance(presets["tags"], dict):
        presets["tags"].setdefault("dev", short_name)
    presets.setdefault("jobs_max_concurrent_runs", 4)
    presets.setdefault("trigger_pause_status", "PAUSED")
    if presets.get("pipelines_development") is not False:
        presets["pipelines_development"] = True


def apply_presets(config: dict, root: Path, problems: Problems) -> None:
    """Name prefix, tags, max_concurrent_runs and trigger pause status on jobs; prefix, tags, development on pipelines."""
    presets = config.get("presets") or {}
    if not isinstance(presets, dict):
        problems.add(root, "presets", "expected a mapping (name_prefix, trigger_pause_status, tags...)")
        return
    file = file_of(config, "presets", str(root))
    prefix = presets.get("name_prefix") or ""
    tags = presets.get("tags") or {}
    pause = presets.get("trigger_pause_status")
    runs = presets.get("jobs_max_concurrent_runs")
    if not isinstance(prefix, str):
        problems.add(file, "presets.name_prefix", f"expected a string, got {prefix!r}")
        prefix = ""
    if not isinstance(tags, dict):
        problems.add(file, "presets.tags", "expected a mapping of tag names to values")
        tags = {}
    if pause is not None and pause not in PAUSE:
        problems.add(file, "presets.trigger_pause_status", f"expected PAUSED or UNPAUSED, got {pause!r}")
        pause = None
    if runs is not None and (isinstance(runs, bool) or not isinstance(runs, int) or runs < 1):
        problems.add(file, "presets.jobs_max_concurrent_runs", f"expected a positive integer, got {runs!r}")
        presets = {k: v for k, v in presets.items() if k != "jobs_max_concurrent_runs"}
    resources = config.get("resources") if isinstance(config.get("resources"), dict) else {}
    jobs = resources.get("jobs") if isinstance(resources.get("jobs"), dict) else {}
    pipelines = resources.get("pipelines") if isinstance(resources.get("pipelines"), dict) else {}
    for key, job in jobs.items():
        if not isinstance(job, dict):
            continue
        job["name"] = prefix + str(job.get("name") or key)
        if tags:
            if job.get("tags") is None:
                job["tags"] = LDict(where={})
            job_tags = job["tags"]
            if isinstance(job_tags, dict):
                for tag, value in tags.items():
                    if not job_tags.get(tag):
                        job_tags[tag] = value
        if presets.get("jobs_max_concurrent_runs") and not job.get("max_concurrent_runs"):
            job["max_concurrent_runs"] = presets["jobs_max_concurrent_runs"]
        if pause:
            for section in ("schedule", "continuous", "trigger"):
                if isinstance(job.get(section), dict) and not job[section].get("pause_status"):
                    job[section]["pause_status"] = pause
    for key, pipeline in pipelines.items():
        if not isinstance(pipeline, dict):
            continue
        pipeline["name"] = prefix + str(pipeline.get("name") or key)
        if presets.get("pipelines_development") is True:
            pipeline["development"] = True
        if pause == "PAUSED" and "continuous" in pipeline:
            pipeline["continuous"] = False
        if tags:
            if pipeline.get("tags") is None:
                pipeline["tags"] = LDict(where={})
            pipeline_tags = pipeline["tags"]
            if isinstance(pipeline_tags, dict):
                for tag, value in tags.items():
                    if not pipeline_tags.get(tag):
                        pipeline_tags[tag] = value
