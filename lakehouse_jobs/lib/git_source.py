"""A job's `git_source`: its tasks' files come from a Git repository at a branch, tag or commit.

As in Databricks, a job that declares `git_source` (`git_url`, `git_provider`, one of `git_branch`,
`git_tag`, `git_commit`) runs the notebooks, Python files, SQL files and dbt projects of its tasks
with `source: GIT` (the default when `git_source` is set) from that repository at that revision, with
paths relative to the repository's root.

Locally: one bare mirror per URL under the user cache (`$LAKEHOUSE_GIT_CACHE`, else
`$XDG_CACHE_HOME/lakehouse_jobs/git`, else `~/.cache/lakehouse_jobs/git`), one read-only worktree
per resolved commit next to it (a commit's files never change, so runs share it). The first task of a
run that needs the repository resolves the revision - fetching first for a branch or a tag, and for
a commit the mirror does not hold yet - and records the commit as the run tag
`lakehouse_jobs/git_commit`; every other task of that run (and its retries) uses that same commit.

`git_url` is anything `git clone` reaches: a local path, `file://`, `https://`, `ssh://`, `git@host:`.
Credentials come from the environment and git's own credential helpers (`GIT_ASKPASS`, SSH agents,
`credential.helper`); a password written in the URL is refused, and any `user:password@` in a git
message is hidden before it is shown. git never prompts (`GIT_TERMINAL_PROMPT=0`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse_jobs.lib import tags as lakehouse_tags

try:  # a lock between the processes of concurrent runs; Windows has no fcntl (single-process there)
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms this project runs on
    fcntl = None  # type: ignore[assignment]

CACHE_ENV = "LAKEHOUSE_GIT_CACHE"
PROVIDERS = ("gitHub", "bitbucketCloud", "azureDevOpsServices", "gitHubEnterprise", "bitbucketServer", "gitLab", "gitLabEnterpriseEdition", "awsCodeCommit")
REFERENCES = ("git_branch", "git_tag", "git_commit")
FIELDS = ("git_url", "git_provider", *REFERENCES, "git_snapshot")
MAX_URL = 300  # Databricks' limit
COMMIT = re.compile(r"[0-9a-fA-F]{4,40}")
USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s]+)@")
GIT_TIMEOUT = 600
SCP_LIKE = re.compile(r"^[^/\\:@]+@[^/\\:]+:")


class GitSourceError(ValueError):
    """git_source cannot be checked out (one sentence naming the field: git_url, git_branch, git_tag or git_commit)."""


@dataclass(frozen=True)
class GitSource:
    url: str
    provider: str
    kind: str  # git_branch, git_tag or git_commit
    ref: str

    def shown(self) -> str:
        return f"{hide_credentials(self.url)} {self.kind.removeprefix('git_')} {self.ref}"


def _hidden(match: re.Match) -> str:
    scheme, userinfo = match["scheme"], match["userinfo"]
    if ":" in userinfo:
        return f"{scheme}{userinfo.split(':', 1)[0]}:***@"
    return f"{scheme}***@" if scheme.lower().startswith("http") else match[0]  # an https token alone; ssh://git@ is no secret


def hide_credentials(text: str) -> str:
    """`https://user:secret@host/...` -> `https://user:***@host/...`, `https://token@host` -> `https://***@host`, wherever in `text`."""
    return USERINFO.sub(_hidden, text)


def has_password(url: str) -> bool:
    return any(":" in match["userinfo"] for match in USERINFO.finditer(url))


def parse_git_source(raw: Any, path: str) -> tuple[GitSource | None, list[tuple[str, str]]]:
    """The checked `git_source` (None when absent) and its problems as (field path, message)."""
    if raw is None:
        return None, []
    if not isinstance(raw, Mapping):
        return None, [(path, "expected {git_url, git_provider, git_branch | git_tag | git_commit}")]
    problems: list[tuple[str, str]] = []
    unknown = sorted(str(k) for k in raw if k not in FIELDS)
    for name in unknown:
        why = (
            "(sparse checkout is not supported locally: the whole revision is checked out)" if name == "sparse_checkout" else f"(expected {', '.join(FIELDS)})"
        )
        problems.append((f"{path}.{name}", f"not a field of git_source {why}"))
    url = raw.get("git_url")
    if not isinstance(url, str) or not url.strip():
        problems.append((f"{path}.git_url", "missing: the repository to check out (a local path or any URL git can clone)"))
    elif len(url) > MAX_URL:
        problems.append((f"{path}.git_url", f"at most {MAX_URL} characters (Databricks' limit)"))
    elif has_password(url) or any(c.isspace() for c in url.strip()):
        problems.append((f"{path}.git_url", "a password in git_url is refused: use git's credential helper, GIT_ASKPASS or an SSH key"))
    provider = raw.get("git_provider")
    providers = {p.lower(): p for p in PROVIDERS}
    if not isinstance(provider, str) or provider.lower() not in providers:
        problems.append((f"{path}.git_provider", f"expected one of {', '.join(PROVIDERS)} (case-insensitive), got {provider!r}"))
    given = [name for name in REFERENCES if raw.get(name) is not None]
    if len(given) != 1:
        problems.append((path, f"expected exactly one of git_branch, git_tag, git_commit, got {', '.join(given) or 'none'}"))
    for name in given:
        value = raw[name]
        if not isinstance(value, str) or not value.strip() or value.startswith("-") or any(c.isspace() for c in value):
            problems.append((f"{path}.{name}", f"expected a {name.removeprefix('git_')} name, got {value!r}"))
        elif name == "git_commit" and not COMMIT.fullmatch(value):
            problems.append((f"{path}.git_commit", f"expected a commit hash (4 to 40 hexadecimal digits), got {value!r}"))
    if problems:
        return None, problems
    return GitSource(url.strip(), providers[provider.lower()], given[0], raw[given[0]].strip()), []


def cache_root() -> Path:
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lakehouse_jobs" / "git"


def _git(args: list[str], what: str, cwd: Path | None = None) -> str:
    environment = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}  # never a prompt: credentials come from helpers or the environment
    try:
        done = subprocess.run(
            ["git", "-c", "protocol.ext.allow=never", *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=GIT_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise GitSourceError(f"{what}: git is not installed (git_source needs the git command)") from None
    except subprocess.TimeoutExpired:
        raise GitSourceError(f"{what}: git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        lines = [line for line in (done.stderr or done.stdout).strip().splitlines() if line.strip()]
        detail = hide_credentials(lines[-1]) if lines else f"exit code {done.returncode}"
        raise GitSourceError(f"{what}: {detail}")
    return done.stdout.strip()


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _clone_url(url: str, base_dir: Path | None) -> str:
    """URLs and scp-like `user@host:path` as given; a local path, relative ones from the job's folder."""
    if "://" in url or SCP_LIKE.match(url):
        return url
    path = Path(url).expanduser()
    return str(path if path.is_absolute() else (Path(base_dir or Path.cwd()) / path).resolve())


class Mirror:
    """The cached bare mirror of one repository URL, and the worktrees of its commits."""

    def __init__(self, source: GitSource, base_dir: Path | None = None):
        self.source = source
        self.url = _clone_url(source.url, base_dir)
        self.folder = cache_root() / hashlib.sha256(self.url.encode()).hexdigest()[:20]
        self.git_dir = self.folder / "mirror.git"

    def _ensure(self) -> bool:
        """Clone the mirror if missing; True when it was just cloned (already up to date)."""
        if (self.git_dir / "HEAD").is_file():
            return False
        partial = self.folder / "mirror.partial"
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)  # a clone that was interrupted
        self.folder.mkdir(parents=True, exist_ok=True)
        _git(["clone", "--mirror", "--quiet", "--", self.url, str(partial)], f"git_source.git_url {hide_credentials(self.source.url)!r} cannot be cloned")
        partial.rename(self.git_dir)
        return True

    def _fetch(self) -> None:
        _git(
            ["--git-dir", str(self.git_dir), "fetch", "--prune", "--tags", "--quiet", "origin"],
            f"git_source.git_url {hide_credentials(self.source.url)!r} cannot be fetched",
        )

    def _commit_of(self, revision: str) -> str | None:
        try:
            return _git(["--git-dir", str(self.git_dir), "rev-parse", "--verify", "--quiet", "--end-of-options", f"{revision}^{{commit}}"], "rev-parse")
        except GitSourceError:
            return None

    def resolve(self) -> str:
        """The commit the source names now (fetching first for branches and tags)."""
        kind, ref = self.source.kind, self.source.ref
        fresh = self._ensure()
        if kind == "git_commit":
            commit = self._commit_of(ref)
            if commit is None and not fresh:
                self._fetch()
                commit = self._commit_of(ref)
            if commit is None or not commit.lower().startswith(ref.lower()):
                raise GitSourceError(f"git_source.git_commit {ref!r} is not a commit of {hide_credentials(self.source.url)}")
            return commit
        if not fresh:
            self._fetch()
        namespace = "refs/heads/" if kind == "git_branch" else "refs/tags/"
        commit = self._commit_of(namespace + ref)
        if commit is None:
            noun = "branch" if kind == "git_branch" else "tag"
            raise GitSourceError(f"git_source.{kind} {ref!r} is not a {noun} of {hide_credentials(self.source.url)}")
        return commit

    def worktree(self, commit: str) -> Path:
        """The checkout of `commit` (created once; a commit's files never change)."""
        path = self.folder / "worktrees" / commit
        if (path / ".git").exists():
            return path.resolve()
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)  # a half-made worktree
            _git(["--git-dir", str(self.git_dir), "worktree", "prune"], "git worktree prune")
        path.parent.mkdir(parents=True, exist_ok=True)
        _git(["--git-dir", str(self.git_dir), "worktree", "add", "--detach", "--force", str(path), commit], f"git_source: checking out {commit}")
        return path.resolve()

    def ensure_commit(self, commit: str) -> None:
        if self._commit_of(commit) is None and not self._ensure():
            self._fetch()

    @contextmanager
    def locked(self) -> Iterator[Mirror]:
        with _locked(self.folder.parent / f"{self.folder.name}.lock"):
            yield self


def run_checkout(task_run: Any, error: type[Exception] = GitSourceError) -> Path:
    """The worktree of the job's git_source for this run: resolved once per run, recorded as a run tag, logged.

    `task_run`: a jobs TaskRun (duck-typed: this module stays a leaf). `error(one sentence)` is raised otherwise.
    """
    try:
        return _run_checkout(task_run)
    except GitSourceError as exc:
        raise error(str(exc)) from None


def _run_checkout(task_run: Any) -> Path:
    spec = task_run.runtime.spec
    source, problems = parse_git_source(spec.raw.get("git_source"), "git_source")
    if source is None:
        raise GitSourceError(f"{problems[0][0]}: {problems[0][1]}" if problems else "source GIT needs the job's git_source, which this job does not declare")
    context = task_run.context
    instance, run_id = context.instance, context.run_id
    mirror = Mirror(source, spec.base_dir)
    with mirror.locked():  # one resolution per run, even for tasks running at once in several processes
        commit = instance.get_run_by_id(run_id).tags.get(lakehouse_tags.GIT_COMMIT)
        if commit is None:
            commit = mirror.resolve()
            instance.add_run_tags(run_id, {lakehouse_tags.GIT_COMMIT: commit})
            context.log.info(f"git_source {source.shown()}: commit {commit} (run tag {lakehouse_tags.GIT_COMMIT})")
        else:
            mirror.ensure_commit(commit)  # the cache may have been cleared since the run resolved it
        return mirror.worktree(commit)
