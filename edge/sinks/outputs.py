"""Where outcomes go: stdout (text or JSON Lines), a CSV table and a JSON Lines result file.

Every outcome is written with one ``write`` per destination and flushed at once, so a crash or a
kill leaves whole records behind, never half an image.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import TextIO

from edge.apps.batch import Outcome
from edge.sinks.records import CSV_HEADER, csv_error_row, csv_rows, text_line

log = logging.getLogger("edge")


def _csv_text(rows: list[list]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue()


class Sinks:
    def __init__(self, as_json: bool, csv_path: Path | None = None, output_path: Path | None = None,
                 append: bool = False, stdout: TextIO | None = None) -> None:
        self.as_json = as_json
        self.stdout = stdout if stdout is not None else sys.stdout
        mode = "a" if append else "w"
        self.csv_file = open(csv_path, mode, newline="", encoding="utf-8") if csv_path else None
        self.output_file = open(output_path, mode, encoding="utf-8") if output_path else None
        if self.csv_file is not None and self.csv_file.tell() == 0:
            self.csv_file.write(_csv_text([CSV_HEADER]))
            self.csv_file.flush()

    def emit(self, outcome: Outcome) -> None:
        line = json.dumps(outcome.record, ensure_ascii=False) + "\n"
        if self.as_json:
            self.stdout.write(line)
        elif outcome.ok:
            self.stdout.write(text_line(outcome.source, outcome.reading) + "\n")
        self.stdout.flush()
        if not outcome.ok:
            log.error("%s: %s", outcome.source, outcome.record["error"])
        if self.output_file is not None:
            self.output_file.write(line)
            self.output_file.flush()
        if self.csv_file is not None:
            rows = csv_rows(outcome.source, outcome.reading) if outcome.ok else [
                csv_error_row(outcome.source, outcome.record["error"])]
            self.csv_file.write(_csv_text(rows))
            self.csv_file.flush()

    def close(self) -> None:
        for handle in (self.csv_file, self.output_file):
            if handle is not None:
                handle.close()

    def __enter__(self) -> "Sinks":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
