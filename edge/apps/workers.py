"""Spread a batch over worker processes that can die without taking the batch with them.

Each worker builds its own recogniser (an interpreter cannot be shared across processes) and reads
one file at a time; the parent hands out the next input only when a worker is free, so nothing
piles up in memory. A worker that dies (a decoder crash, the OOM killer) is replaced, and the input
it was reading is reported as an error. Results come back in input order, or as they finish.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Callable, Iterable, Iterator

from edge.apps.batch import FileOptions, Outcome, read_file
from edge.sinks.records import error_record
from edge.sources.files import Source

# Test hook: a worker reading an input whose name contains this text kills itself, as a decoder
# crash would. It lets the tests prove that a dying worker costs one input, not the batch.
CRASH_HOOK = "EDGE_DIGITS_TEST_CRASH_ON"


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    task: tuple[int, Source] | None = None


def _worker_main(conn: Connection, make_recognizer: Callable[[], object], options: FileOptions) -> None:
    # Ctrl+C, and SIGTERM from systemd or `kill -- -PGID`, reach the whole process group; the parent
    # decides when to stop (after the images in hand), not each worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    recognizer = make_recognizer()
    crash_on = os.environ.get(CRASH_HOOK)
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, source = task
        if crash_on and crash_on in source.name:
            os.kill(os.getpid(), signal.SIGKILL)
        conn.send((index, read_file(source, recognizer, options)))


class WorkerPool:
    """``jobs`` processes reading files; ``run`` yields outcomes as a stream."""

    def __init__(self, jobs: int, make_recognizer: Callable[[], object], options: FileOptions) -> None:
        self.context = mp.get_context("spawn")  # fresh interpreters: no forked native runtime state
        self.make_recognizer = make_recognizer
        self.options = options
        self.workers = [self._start() for _ in range(max(1, jobs))]
        self.stop_requested = False
        # In input order, results finished ahead of a slow image wait in memory (and would be lost
        # to a SIGKILL): never let more than this many wait; idle workers wait instead.
        self.max_waiting = 4 * max(1, jobs)

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main, args=(child, self.make_recognizer, self.options), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def request_stop(self) -> None:
        """Finish the inputs already being read, then stop handing out new ones."""
        self.stop_requested = True

    def run(self, sources: Iterable[Source], ordered: bool = True) -> Iterator[Outcome]:
        pending = iter(enumerate(sources))
        finished: dict[int, Outcome] = {}
        next_out = 0
        exhausted = False
        while True:
            if not self.stop_requested and not exhausted:
                for i, worker in enumerate(self.workers):
                    if worker.task is not None or (ordered and len(finished) >= self.max_waiting):
                        continue
                    task = next(pending, None)
                    if task is None:
                        exhausted = True
                        break
                    try:
                        worker.conn.send(task)
                    except (BrokenPipeError, OSError):  # it died while idle: replace it, same task
                        worker.process.join(timeout=1)
                        worker = self.workers[i] = self._start()
                        worker.conn.send(task)
                    worker.task = task
            busy = [w for w in self.workers if w.task is not None]
            if not busy:
                break
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                outcome = None
                if worker.conn in ready:
                    try:
                        index, outcome = worker.conn.recv()
                    except (EOFError, OSError):
                        outcome = None
                if outcome is None and (worker.conn in ready or worker.process.sentinel in ready):
                    if worker.process.is_alive() and worker.conn in ready:
                        continue
                    index, source = worker.task
                    worker.process.join(timeout=1)
                    code = worker.process.exitcode
                    cause = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    outcome = Outcome(source.name, error_record(
                        source.name, f"the worker reading this image died ({cause}); it was replaced"))
                    self.workers[self.workers.index(worker)] = self._start()
                if outcome is None:
                    continue
                worker.task = None
                if ordered:
                    finished[index] = outcome
                else:
                    yield outcome
            while ordered and next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
        if ordered:  # after a stop, whatever finished out of order is still finished work
            for index in sorted(finished):
                yield finished[index]

    def close(self) -> None:
        for worker in self.workers:
            try:
                worker.conn.send(None)
            except (OSError, BrokenPipeError):
                pass
        for worker in self.workers:
            worker.process.join(timeout=5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
