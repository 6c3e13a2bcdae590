"""Spread a batch over worker processes that can die without taking the batch with them.

Each worker builds its own recogniser (an interpreter cannot be shared across processes) and reads
one input at a time (all its pages); the parent hands out the next input only when a worker is
free, so nothing piles up in memory. A worker that dies (a decoder crash, the OOM killer) is
replaced, and the input it was reading is reported as an error. Results come back in input order,
or as they finish.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

from edge.sinks.records import error_record
from edge.sinks.result import Result

# What a worker does with one input: (input, recogniser) -> its results.
ReadOne = Callable[[Any, Any], "list[Result]"]


@dataclass
class _Worker:
    process: mp.process.BaseProcess
    conn: Connection
    task: tuple[int, Any] | None = None


def _worker_main(conn: Connection, make_recognizer: Callable[[], object], read_one: ReadOne) -> None:
    # Ctrl+C, and SIGTERM from systemd or `kill -- -PGID`, reach the whole process group; the parent
    # decides when to stop (after the images in hand), not each worker.
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    recognizer = make_recognizer()
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, item = task
        conn.send((index, read_one(item, recognizer)))


class WorkerPool:
    """``jobs`` processes reading files; ``run`` yields outcomes as a stream."""

    def __init__(self, jobs: int, make_recognizer: Callable[[], object], read_one: ReadOne) -> None:
        self.context = mp.get_context("spawn")  # fresh interpreters: no forked native runtime state
        self.make_recognizer = make_recognizer
        self.read_one = read_one
        self.workers = [self._start() for _ in range(max(1, jobs))]
        self.stop_requested = False
        # In input order, results finished ahead of a slow image wait in memory (and would be lost
        # to a SIGKILL): never let more than this many wait; idle workers wait instead.
        self.max_waiting = 4 * max(1, jobs)

    def _start(self) -> _Worker:
        parent, child = self.context.Pipe()
        process = self.context.Process(
            target=_worker_main, args=(child, self.make_recognizer, self.read_one), daemon=True
        )
        process.start()
        child.close()
        return _Worker(process, parent)

    def request_stop(self) -> None:
        """Finish the inputs already being read, then stop handing out new ones."""
        self.stop_requested = True

    def run(self, inputs: Iterable[Any], ordered: bool = True) -> Iterator[list[Result]]:
        """Each input's results (a list), as a stream; ``inputs`` need a ``name`` and ``kind``."""
        pending = iter(enumerate(inputs))
        finished: dict[int, list[Result]] = {}
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
                    index, item = worker.task
                    worker.process.join(timeout=1)
                    code = worker.process.exitcode
                    cause = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    message = f"the worker reading this input died ({cause}); it was replaced"
                    outcome = [Result(item.name, error_record(item.name, message), kind=item.kind)]
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
