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


# What a record is the result of: its input, and the page or frame within it (None for neither).
Key = tuple[str, "int | None", "int | None"]


def _int(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _result_files(path: Path) -> list[Path]:
    """A JSON Lines file, or a folder of them (shards written by several machines)."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".jsonl" and p.is_file())
    return [path] if path.exists() else []


def finished(path: Path) -> set[Key]:
    """What already has a record in a JSON Lines result file or folder of shards (their tails
    repaired first): a damaged line is no result, and its input is read again."""
    done: set[Key] = set()
    for file in _result_files(path):
        repair_tail(file)
        with open(file, encoding="utf-8", errors="replace") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("source"), str):
                    done.add((record["source"], _int(record.get("page")), _int(record.get("frame"))))
    return done


def finished_csv(path: Path) -> set[Key]:
    """The same for a CSV table (source, page and frame columns)."""
    if not path.exists():
        return set()
    repair_tail(path)
    done: set[Key] = set()
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if not header:
            return done
        column = {name: i for i, name in enumerate(header)}
        for row in rows:
            if not row:
                continue
            page = row[column["page"]] if "page" in column and column["page"] < len(row) else ""
            frame = row[column["frame"]] if "frame" in column and column["frame"] < len(row) else ""
            done.add((row[0], int(page) if page.isdigit() else None, int(frame) if frame.isdigit() else None))
    return done
