"""The item that flows from the reading loop to the outputs: one record's worth of work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edge.pipeline.results import Reading
from edge.sinks.records import label


@dataclass
class Result:
    """A read page, image or frame (or one that failed): its JSON record and its reading.

    Picklable (worker processes send these back); pixels never travel with it.
    """

    source: str
    record: dict[str, Any]  # the JSON Lines object (``error`` set when it failed)
    reading: Reading | None = None
    kind: str = "document"  # "document", "video" or "camera"
    page: int | None = None
    frame: int | None = None
    t: float | None = None
    changed: bool = True  # streams: the reading differs from the previous frame's

    @property
    def ok(self) -> bool:
        return "error" not in self.record

    @property
    def label(self) -> str:
        return label(self.source, self.page, self.frame, self.t)

    @property
    def key(self) -> tuple[str, int | None, int | None]:
        """What ``--resume`` matches on: the input, and the page or frame within it."""
        return (self.source, self.page, self.frame)
