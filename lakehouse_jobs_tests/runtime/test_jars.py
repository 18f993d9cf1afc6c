"""Delta jars: fetched once (local caches first, else Maven with a checksum), then reused."""

from __future__ import annotations

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from lakehouse_jobs.lib.errors import SetupError
from lakehouse_jobs.lib.runtime import jars


def test_artifact_names_follow_the_spark_line():
    new = [a.name for a in jars.delta_artifacts("4.4.0", "4.2")]
    assert new == ["delta-spark_4.2_2.13", "delta-storage", "delta-kernel-api", "delta-kernel-defaults"]
    assert [a.name for a in jars.delta_artifacts("4.0.1", "4.0")] == ["delta-spark_2.13", "delta-storage"]


def test_resolved_jars_exist_and_are_reused(monkeypatch):
    first = jars.resolve_delta_jars()
    assert all(Path(p).is_file() and Path(p).stat().st_size > 0 for p in first)

    def no_network(url, timeout=0):
        raise AssertionError(f"network used although cached: {url}")

    monkeypatch.setattr(jars, "_download", no_network)
    assert jars.resolve_delta_jars() == first


def test_local_maven_repository_is_used_before_the_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    artifact = jars.Artifact("io.delta", "delta-storage", "9.9.9")
    m2 = tmp_path / ".m2" / "repository" / artifact.repo_path()
    m2.parent.mkdir(parents=True)
    m2.write_bytes(b"jar-bytes")
    monkeypatch.setattr(jars, "_download", lambda url, timeout=0: pytest.fail("network used"))
    assert jars.fetch(artifact, tmp_path / "cache").read_bytes() == b"jar-bytes"


class _Repo(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):
        body = self.files.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        if body is not None:
            self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def maven(monkeypatch, tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Repo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(jars, "MAVEN_URL", f"http://127.0.0.1:{server.server_address[1]}/m2")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield _Repo.files
    server.shutdown()


def test_download_is_checksum_verified(maven, tmp_path):
    artifact = jars.Artifact("io.delta", "delta-storage", "9.9.9")
    maven[f"/m2/{artifact.repo_path()}"] = b"real jar"
    maven[f"/m2/{artifact.repo_path()}.sha1"] = hashlib.sha1(b"real jar").hexdigest().encode()
    assert jars.fetch(artifact, tmp_path / "cache").read_bytes() == b"real jar"

    bad = jars.Artifact("io.delta", "delta-storage", "9.9.8")
    maven[f"/m2/{bad.repo_path()}"] = b"tampered"
    maven[f"/m2/{bad.repo_path()}.sha1"] = b"0" * 40
    with pytest.raises(SetupError, match="SHA-1"):
        jars.fetch(bad, tmp_path / "cache")
    assert not (tmp_path / "cache" / bad.filename).exists()


def test_unreachable_maven_is_one_sentence(maven, tmp_path):
    artifact = jars.Artifact("io.delta", "delta-missing", "1.0.0")
    with pytest.raises(SetupError) as info:
        jars.fetch(artifact, tmp_path / "cache")
    assert "Could not download the Delta jar io.delta:delta-missing:1.0.0" in str(info.value)
    assert "~/.m2/repository" in str(info.value)
