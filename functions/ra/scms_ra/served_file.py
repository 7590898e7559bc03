"""A file the RA serves for download: what every download use case returns to its route.

The route hands it to ``scms_service.http.download_response`` (protocol.md §2.1: Content-Disposition,
ETag = the name unless ``etag`` says otherwise, Last-Modified, 304, Range 206/416).
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ServedFile"]


@dataclass(frozen=True)
class ServedFile:
    """The octets, the file name and when the content last changed (Unix seconds, None: unknown)."""

    body: bytes = field(repr=False)
    filename: str
    last_modified: int | None = None
    etag: str | None = None
    """The validator when the name alone is not a version (None: the name)."""
