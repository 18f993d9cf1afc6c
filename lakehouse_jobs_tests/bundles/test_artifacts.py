"""`lakehouse-jobs build`: a bundle's artifacts built by their own command, so the jobs' `whl` globs find the wheel."""

from __future__ import annotations

import glob
import zipfile

from lakehouse_jobs.cli import main
from lakehouse_jobs.lib.bundles.bundle import load_bundle

from .conftest import write_bundle

# A build command of the bundle's own: writes a real (tiny) wheel into dist/.
MAKE_WHEEL = """
import pathlib, zipfile
dist = pathlib.Path("dist")
dist.mkdir(exist_ok=True)
with zipfile.ZipFile(dist / "tiny-0.1-py3-none-any.whl", "w") as whl:
    whl.writestr("tiny/__init__.py", "def main():\\n    print('tiny ran')\\n")
    whl.writestr("tiny-0.1.dist-info/METADATA", "Metadata-Version: 2.1\\nName: tiny\\nVersion: 0.1\\n")
    whl.writestr("tiny-0.1.dist-info/WHEEL", "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n")
    whl.writestr("tiny-0.1.dist-info/entry_points.txt", "[console_scripts]\\ntiny = tiny:main\\n")
    whl.writestr("tiny-0.1.dist-info/RECORD", "")
"""


def test_build_writes_the_wheel_the_job_names(tmp_path, capsys):
    job = {
        "name": "wheel job",
        "tasks": [{"task_key": "w", "python_wheel_task": {"package_name": "tiny", "entry_point": "tiny"}, "libraries": [{"whl": "../tiny/dist/*.whl"}]}],
    }
    folder = write_bundle(
        tmp_path / "b",
        {"bundle": {"name": "b"}, "include": ["resources/*.yml"], "artifacts": {"tiny": {"type": "whl", "path": "./tiny", "build": "python make_wheel.py"}}},
        {"resources/w.job.yml": {"resources": {"jobs": {"w": job}}}, "tiny/make_wheel.py": MAKE_WHEEL},
    )
    pattern = load_bundle(folder).jobs["w"]["tasks"][0]["libraries"][0]["whl"]  # ../tiny/dist/*.whl from resources/
    assert pattern == str(folder / "tiny" / "dist" / "*.whl") and not glob.glob(pattern)
    assert main(["build", str(folder)]) == 0
    out = capsys.readouterr().out
    wheel = folder / "tiny" / "dist" / "tiny-0.1-py3-none-any.whl"
    assert f"tiny: {wheel}" in out and zipfile.is_zipfile(wheel)
    assert glob.glob(pattern) == [str(wheel)]
    assert main(["validate", str(folder)]) == 0


def test_a_failing_build_is_one_sentence(tmp_path, capsys):
    folder = write_bundle(tmp_path / "b", {"bundle": {"name": "b"}, "artifacts": {"lib": {"type": "whl", "build": "python -c 'raise SystemExit(3)'"}}})
    assert main(["build", str(folder)]) == 1
    err = capsys.readouterr().err
    assert "databricks.yml: artifacts.lib.build: \"python -c 'raise SystemExit(3)'\" failed with exit code 3" in err and "Traceback" not in err
