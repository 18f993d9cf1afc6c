"""File locations as users and Spark write them: plain paths, `file:///x` URLs and Spark's `file:/x`.

One parser for all of them (landing folders, trigger URLs, the files Spark reports
and the manifest records), so a path is read the same way everywhere; any other
scheme is refused with one sentence, since this project reads local files only.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from lakehouse_jobs.lib.errors import SpecError


def local_path(location: str | Path, field: str = "location") -> Path:
    """The local path of a plain path or a `file:` URI (percent-escapes decoded); other schemes: SpecError on `field`."""
    if isinstance(location, Path):
        return location
    text = str(location)
    if "://" in text or text.startswith("file:"):
        parsed = urlparse(text)
        if parsed.scheme != "file":
            raise SpecError(field, f"only local folders and file:// URLs are supported, got {text!r}")
        text = unquote(parsed.path)
    return Path(text)
