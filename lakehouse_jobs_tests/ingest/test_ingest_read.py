"""Line counting of landing files: the gate that spares a big CSV batch its second read."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse_jobs.lib.ingest.read import count_lines


@pytest.mark.parametrize(
    ("content", "lines"),
    [
        (b"h\na\nb\n", 3),
        (b"h\na\nb", 3),  # no final line end
        (b"h\r\na\r\nb\r\n", 3),
        (b"h\ra\rb", 3),  # old Mac line ends
        (b"h\r\n\r\na\n\rb", 5),  # blank lines count: Spark sees them too
        (b"", 0),
    ],
)
@pytest.mark.parametrize("chunk", [1, 2, 3, 16 << 20])
def test_lines_are_counted_like_hadoop_splits_them_whatever_the_block_size(tmp_path: Path, content: bytes, lines: int, chunk: int):
    """Small blocks put a \\r\\n across two reads: it is still one line end."""
    path = tmp_path / "part.csv"
    path.write_bytes(content)
    assert count_lines(path, chunk) == lines
