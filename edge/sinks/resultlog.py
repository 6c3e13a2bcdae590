"""The durable record of a batch (``--output``): what is finished, and a clean place to continue.

Records are JSON Lines written one per image and flushed, so after a crash or a SIGKILL every
finished image is on disk. The only damage a kill can do is a half-written last line; resuming cuts
it off (it is re-done) and skips every input that already has a record.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path


def repair_tail(path: Path) -> int:
    """Truncate a half-written last line; returns the number of bytes removed."""
    with open(path, "rb+") as handle:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        if size == 0:
            return 0
        # Walk back to the last newline; everything after it is an unfinished record.
        position = size
        chunk = 4096
        while position > 0:
            start = max(0, position - chunk)
            handle.seek(start)
            data = handle.read(position - start)
            newline = data.rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            position = start
        else:
            keep = 0
        if keep < size:
            handle.truncate(keep)
        return size - keep


def finished_sources(path: Path) -> set[str]:
    """Sources that already have a record in a JSON Lines result file (repairing its tail first)."""
    if not path.exists():
        return set()
    repair_tail(path)
    done = set()
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a damaged line is not a result: its input will be read again
            if isinstance(record, dict) and isinstance(record.get("source"), str):
                done.add(record["source"])
    return done


def finished_csv_sources(path: Path) -> set[str]:
    if not path.exists():
        return set()
    repair_tail(path)
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return {row[0] for row in csv.reader(handle) if row and row[0] != "source"}
