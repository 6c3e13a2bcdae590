"""The outputs made of records: stdout (text or JSON Lines), a CSV table and the resumable result log.

Every result is written with one ``write`` per destination and flushed at once, so a crash or a
kill leaves whole records behind, never half an image. The same outputs serve every input: images,
pages, video and camera frames.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from edge.sinks.records import CSV_HEADER, csv_error_row, csv_rows, text_line
from edge.sinks.result import Result

log = logging.getLogger("edge")


class OutputError(OSError):
    """An output that cannot be written (a full disk, a vanished folder): the run cannot record what
    it reads, so it stops, with one line naming the output and the cause."""


def _open(path: Path, mode: str, what: str, **options) -> TextIO:
    try:
        return open(path, mode, encoding="utf-8", **options)
    except OSError as exc:
        raise OutputError(f"cannot open {what}: {exc.strerror or exc}") from None


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


def fields_header(names: list[str]) -> list[str]:
    return ["source", "page", *names, *(f"{name} confidence" for name in names), "error"]


def fields_row(names: list[str], result: Result) -> list:
    record = result.record
    values, confidence = record.get("fields", {}), record.get("field_confidence", {})
    page = "" if result.page is None else result.page
    return [result.source, page, *(values.get(n, "") for n in names),
            *("" if confidence.get(n) is None else f"{confidence[n]:.4f}" for n in names), record.get("error", "")]


class RecordSinks:
    """stdout, ``--csv`` and ``--output``.

    Text on stdout is one line per image or page, and for video and camera frames one line when the
    reading changes. JSON Lines carry every record (``changes_only``: for frames, only the ones whose
    reading changed). Errors also go to stderr, one line each.
    """

    def __init__(self, as_json: bool = False, csv_path: Path | None = None, output_path: Path | None = None,
                 append: bool = False, changes_only: bool = False, stdout: TextIO | None = None,
                 fields: list[str] | None = None) -> None:
        self.as_json = as_json
        # With a form's fields, the CSV table is one row per page with a column per field.
        self.fields = fields
        self.changes_only = changes_only
        self.stdout = stdout if stdout is not None else sys.stdout
        mode = "a" if append else "w"
        self.csv_what = f"--csv {csv_path}"
        self.output_what = f"--output {output_path}"
        self.csv_file = self.output_file = None
        self.failed = False  # a write failed and was reported
        try:
            self.csv_file = _open(csv_path, mode, self.csv_what, newline="") if csv_path else None
            self.output_file = _open(output_path, mode, self.output_what) if output_path else None
            if self.csv_file is not None and self.csv_file.tell() == 0:
                self._write(self.csv_file, _csv_text([fields_header(fields) if fields else CSV_HEADER]), self.csv_what)
        except OutputError:
            self.close()
            raise

    def _write(self, handle: TextIO, text: str, what: str) -> None:
        """``text`` written and flushed at once, or OutputError naming ``what`` it was written to."""
        try:
            handle.write(text)
            handle.flush()
        except BrokenPipeError:  # stdout's reader went away (piped into head): the caller stops quietly
            raise
        except OSError as exc:
            self.failed = True
            raise OutputError(f"cannot write {what}: {exc.strerror or exc}") from None

    def emit(self, result: Result) -> None:
        line = json.dumps(result.record, ensure_ascii=False) + "\n"
        stream = result.kind != "document"
        if self.as_json:
            if result.changed or not stream or not self.changes_only or not result.ok:
                self._write(self.stdout, line, "the standard output")
        elif result.ok and (result.changed or not stream):
            self._write(self.stdout, text_line(result.label, result.reading) + "\n", "the standard output")
        if not result.ok and result.frame is None:  # a frame's error is logged where it happens, once
            message = result.record["error"]
            # Stream errors name their source already ("camera:7: no such camera").
            log.error("%s", message if stream else f"{result.label}: {message}")
        if self.output_file is not None:
            self._write(self.output_file, line, self.output_what)
        if self.csv_file is not None and self.fields:
            self._write(self.csv_file, _csv_text([fields_row(self.fields, result)]), self.csv_what)
        elif self.csv_file is not None:
            if result.ok:
                rows = csv_rows(result.source, result.reading, result.page, result.frame)
            else:
                rows = [csv_error_row(result.source, result.record["error"], result.page, result.frame)]
            self._write(self.csv_file, _csv_text(rows), self.csv_what)

    def close(self) -> None:
        """Close the files. After a write failed (and was reported) closing fails again on the same
        buffer, and that is not reported twice; otherwise a failure here (a network file system
        reports late) is an OutputError like a failed write."""
        problem = None
        for handle, what in ((self.csv_file, self.csv_what), (self.output_file, self.output_what)):
            if handle is not None:
                try:
                    handle.close()
                except OSError as exc:
                    problem = problem or OutputError(f"cannot write {what}: {exc.strerror or exc}")
        self.csv_file = self.output_file = None
        if problem is not None and not self.failed:
            raise problem

    def __enter__(self) -> "RecordSinks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
