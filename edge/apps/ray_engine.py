"""``--engine ray``: the batch on Ray Data, on a laptop or a cluster, with the local engine's records.

This process (the driver) lists the inputs the way the local engine does (the same names, order,
skipped files and listing errors; URIs through the filesystems Ray Data itself reads with), leaves out
what ``--resume`` finds finished, and hands the rest to Ray Data as rows that say where each input is.
A pool of actors, each holding one recogniser (the model is loaded once per actor), reads them in
batches with ``read_document``, the local engine's unit of work, and sends back each input's results.
The driver writes them through the same outputs, in order of completion, and nothing else writes:
each record reaches it exactly once, however often Ray retried the batch that made it.

Failures: a bad input is an error record, never an exception. An actor that dies (killed, out of
memory, a decoder crash) is restarted by Ray and its batches are retried until they are done. Each
actor tells a small ledger actor which input it starts and which it finishes, so an input that was
started ``READER_DEATHS`` times and never finished (it kills its reader) is not read again: it gets an
error record, as a dying worker process gives in the local engine, and the batch goes on.

Nothing here is imported by the local engine: Ray costs seconds to import and start.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, TextIO

from edge.apps.driver import (
    RunSettings,
    StopOnSignal,
    Tally,
    UsageError,
    emit,
    finish,
    load_form_once,
    progress_bar,
    read_document,
)
from edge.pipeline.recognizer import build_recognizer
from edge.runtime.metadata import metadata_path
from edge.sinks.outputs import RecordSinks
from edge.sinks.records import error_record
from edge.sinks.result import Result
from edge.sinks.resultlog import Key, finished, finished_csv
from edge.sources import formats
from edge.sources.files import has_no_extension, is_input_name
from edge.sources.streams import STDIN, Input, list_inputs

if TYPE_CHECKING:
    from edge.api import Reader

log = logging.getLogger("edge")

# Inputs per Ray task. Each task costs the driver and Ray a few milliseconds of bookkeeping, so a
# batch should take far longer than that (a page takes 20-100 ms); a dying actor costs its batches a
# retry, and results reach the output one batch at a time, so it should not be much longer either.
BATCH_INPUTS = 8
# Readers an input may kill before it is given up with an error record (a decoder crash on one file
# must not stall the job in endless retries; one death may be bad luck, an OOM kill by a neighbour).
READER_DEATHS = 3
# Seconds to wait for a cluster's address to accept a connection before saying it does not.
CONNECT_TIMEOUT_S = 10
# Seconds to wait, after a stop, for Ray Data's threads in this process to finish the block fetch in
# hand (milliseconds; seconds on a loaded machine) before Ray is shut down.
FETCH_STOP_S = 30
# Names of Ray Data's threads that fetch an iterator's blocks (they end when it is closed).
PIPELINE_THREADS = ("iter_threaded", "StreamingExecutor-")
INSTALL_HINT = ("--engine ray needs Ray Data: pip install 'edge-digits[ray]' (Ray has wheels for Python "
                "3.10-3.14 on Linux x86-64 and aarch64, macOS arm64 and Windows x86-64)")


# --- what travels ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Work:
    """One input as an actor receives it: everything it needs to read it, no open file."""

    index: int  # position in this run's list (the driver's bookkeeping)
    item: Input  # path (absolute, for actors whose working folder differs) or bytes (standard input)
    uri_root: str | None = None  # object storage: the URI argument it was listed from ...
    uri_path: str | None = None  # ... and its path in that URI's filesystem
    sniff: bool = False  # listed from a folder without an extension: read it only if its content is an input
    done: frozenset = frozenset()  # its pages already in the result log (--resume)


@dataclass
class Outcome:
    """What an actor sends back for one input."""

    index: int
    results: list[Result] = field(default_factory=list)
    skipped: str | None = None  # not an image or PDF after all (content sniffed)


@dataclass(frozen=True)
class ModelFiles:
    """The driver's model, sent to every actor, so that a cluster's nodes read with exactly the model
    the driver checked, wherever (and whether) it is installed there."""

    name: str
    model: bytes
    metadata: bytes

    @classmethod
    def read(cls, path: Path) -> "ModelFiles":
        return cls(path.name, path.read_bytes(), metadata_path(path).read_bytes())

    def write(self, folder: Path) -> Path:
        path = folder / self.name
        path.write_bytes(self.model)
        metadata_path(path).write_bytes(self.metadata)
        return path


# --- the actors ---------------------------------------------------------------------------------------

class Ledger:
    """A Ray actor that counts, per input, the readings started and not finished: each is a reader
    that died on it (Ray retries a dead actor's batches, so the same input comes back)."""

    def __init__(self) -> None:
        self.open: dict[int, int] = {}

    def start(self, index: int) -> int:
        """Count a start; the readers that died on this input before it."""
        deaths = self.open.get(index, 0)
        self.open[index] = deaths + 1
        return deaths

    def finish(self, index: int) -> None:
        self.open[index] = self.open.get(index, 1) - 1


class DocumentReader:
    """A Ray Data actor: one recogniser, built once, reads batch after batch of inputs."""

    def __init__(self, settings: RunSettings, model: ModelFiles, ledger: Any) -> None:
        self._model_dir = tempfile.TemporaryDirectory(prefix="edge-digits-model-")
        runtime = replace(settings.runtime, model=model.write(Path(self._model_dir.name)))
        self.recognizer = build_recognizer(runtime, settings.options)
        self.settings = settings
        self.ledger = ledger
        self._filesystems: dict[str, tuple[Any, str]] = {}

    def __call__(self, batch: dict) -> dict:
        import numpy as np
        import ray

        outcomes = []
        for work in batch["work"]:
            # Waited for, so that the start is on record before a crash can happen; the finish is not.
            deaths = ray.get(self.ledger.start.remote(work.index))
            if deaths >= READER_DEATHS:
                outcome = Outcome(work.index, [_error(work.item, f"its reader died {deaths} times reading it "
                                                                 "(a Ray actor, replaced each time)")])
            else:
                outcome = self.read(work)
            self.ledger.finish.remote(work.index)
            outcomes.append(outcome)
        return {"outcome": np.array(outcomes, dtype=object)}

    def read(self, work: Work) -> Outcome:
        """One input's outcome, as ``read_document`` gives it; never raises."""
        item = work.item
        if work.uri_root is not None:
            try:
                data = self._fetch(work.uri_root, work.uri_path)
            except OSError as exc:
                return Outcome(work.index, [_error(item, f"cannot read ({_one_line(exc)})")])
            item = replace(item, data=data)
            kind = formats.sniff(data[: formats.HEAD_BYTES]) if work.sniff else None
            if kind is not None and not kind.readable:
                return Outcome(work.index, skipped=kind.label)
        try:  # settings that do not fit one document (--roi outside it) are that document's error
            return Outcome(work.index, read_document(item, self.recognizer, self.settings, work.done))
        except Exception as exc:  # a bug must cost this input, not the batch (which Ray would retry forever)
            message = f"internal error while reading ({type(exc).__name__}: {_one_line(exc)})"
            return Outcome(work.index, [_error(item, message)])

    def _fetch(self, root: str, path: str) -> bytes:
        if root not in self._filesystems:
            self._filesystems[root] = resolve_uri(root)
        filesystem, _ = self._filesystems[root]
        with filesystem.open_input_stream(path) as stream:
            return stream.read()


def _error(item: Input, message: str) -> Result:
    return Result(item.name, error_record(item.name, message), kind="document")


def _one_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def ray_cause(exc: BaseException) -> str:
    """One line for a Ray failure: the last line of its message, where Ray puts the underlying error
    (``ModuleNotFoundError: No module named 'edge'`` on a node without the package), colours removed."""
    import re

    lines = [line.strip() for line in re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


# --- inputs --------------------------------------------------------------------------------------------

def is_uri(source: str) -> bool:
    """``s3://bucket/scans``, ``gs://...``, ``file:///...``: read through a filesystem, not the OS."""
    scheme, sep, _ = source.partition("://")
    return bool(sep) and scheme.replace("+", "").replace("-", "").replace(".", "").isalnum() and len(scheme) > 1


def resolve_uri(uri: str) -> tuple[Any, str]:
    """The filesystem of a URI and the path in it, as Ray Data resolves them: PyArrow's filesystems
    (S3, GCS, HDFS, Azure, local), then fsspec's (HTTP and others) for schemes PyArrow lacks.
    Raises OSError with one line."""
    import pyarrow
    import pyarrow.fs

    try:
        return pyarrow.fs.FileSystem.from_uri(uri)
    except pyarrow.ArrowInvalid:
        pass  # not a PyArrow scheme
    except (OSError, pyarrow.ArrowException) as exc:
        raise OSError(_one_line(exc)) from None
    try:
        import fsspec
        from fsspec.core import split_protocol
    except ImportError:
        raise OSError(f"no filesystem for {uri.partition('://')[0]}:// URIs") from None
    try:
        filesystem = fsspec.filesystem(split_protocol(uri)[0])
    except (ValueError, ImportError) as exc:
        raise OSError(f"no filesystem for {uri.partition('://')[0]}:// URIs ({_one_line(exc)})") from None
    return pyarrow.fs.PyFileSystem(pyarrow.fs.FSSpecHandler(filesystem)), filesystem._strip_protocol(uri)


def list_uri(uri: str, recursive: bool) -> Iterator[tuple[Input, str | None, bool]]:
    """The inputs a URI names: a file, or a folder's images and PDFs (sorted; subfolders with
    ``recursive``), each as (input, path in the filesystem, whether its content must decide)."""
    import pyarrow.fs

    try:
        filesystem, base = resolve_uri(uri)
        info = filesystem.get_file_info(base)
        if info.type == pyarrow.fs.FileType.NotFound:
            yield Input(uri, "document", error="no such file or folder"), None, False
            return
        if info.type != pyarrow.fs.FileType.Directory:
            yield Input(uri, "document"), base, False
            return
        found = filesystem.get_file_info(pyarrow.fs.FileSelector(base, recursive=recursive))
    except OSError as exc:
        yield Input(uri, "document", error=f"cannot list ({_one_line(exc)})"), None, False
        return
    prefix = uri.rstrip("/")
    for entry in sorted((e for e in found if e.type == pyarrow.fs.FileType.File), key=lambda e: e.path):
        name = prefix + "/" + entry.path[len(base):].lstrip("/")
        if is_input_name(name):
            yield Input(name, "document"), entry.path, False
        elif has_no_extension(name):
            yield Input(name, "document"), entry.path, True
        else:
            yield Input(name, "document", skipped=f"not an image or PDF ({os.path.splitext(name)[1].lower()})"), None, False


def plan(settings: RunSettings, done: set[Key], tally: Tally) -> list[Work]:
    """The run's work: every input the arguments name, as the local engine lists them, less what the
    result log has; skipped files are counted in ``tally`` for the summary."""
    by_name: dict[str, set[Key]] = {}
    for key in done:
        by_name.setdefault(key[0], set()).add(key)
    recursive = settings.inputs.recursive
    work: list[Work] = []
    for argument in settings.inputs.sources:
        if is_uri(argument):
            listed = ((item, argument, path, sniff) for item, path, sniff in list_uri(argument, recursive))
        else:  # local files are sniffed while listing (edge.sources.files)
            listed = ((item, None, None, False) for item in list_inputs([argument], recursive))
        for item, root, path, sniff in listed:
            if item.skipped is not None:
                tally.skipped.append(item)
                continue
            tally.inputs += 1
            if (item.name, None, None) in done:
                continue
            if item.name == STDIN and item.path is None:
                item = replace(item, data=sys.stdin.buffer.read())
            elif item.path is not None:
                item = replace(item, path=Path(os.path.abspath(item.path)))
            work.append(Work(len(work), item, root if path is not None else None, path, sniff,
                             frozenset(by_name.get(item.name, ()))))
    return work


# --- settings ------------------------------------------------------------------------------------------

def check_settings(settings: RunSettings, address: str | None) -> None:
    """UsageError for what Ray cannot do, before Ray starts."""
    inputs, outputs = settings.inputs, settings.outputs
    if inputs.has_streams:
        raise UsageError("--engine ray reads images and documents; videos and cameras are read frame after frame "
                         "on this machine (--engine local)")
    if outputs.window or outputs.show_images:
        raise UsageError("--show shows images one after another on this machine; use --engine local")
    if address is not None:
        for flag, folder in (("--out", outputs.annotate_dir), ("--debug", outputs.debug_dir)):
            if folder is not None:
                raise UsageError(f"{flag} writes images on the machine that reads each page: on a cluster "
                                 f"({address}) they would be scattered over its nodes; use it with a local Ray "
                                 "instance (no --ray-address)")


def output_file(output: Path | None) -> Path | None:
    """Where this run's records go: ``--output FILE``, or in a folder a new shard of its own (several
    runs, resumed or side by side, never write into one file; object storage mounts cannot append)."""
    if output is None or not output.is_dir():
        return output
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return output / f"part-{stamp}-{socket.gethostname()}-{os.getpid()}.jsonl"


def actor_settings(settings: RunSettings) -> RunSettings:
    """The settings as actors need them: folders absolute (an actor's working folder is Ray's), the
    driver's outputs left out (only the driver writes records)."""
    outputs = settings.outputs
    absolute = lambda path: Path(os.path.abspath(path)) if path is not None else None  # noqa: E731
    return replace(
        settings,
        outputs=replace(outputs, annotate_dir=absolute(outputs.annotate_dir), debug_dir=absolute(outputs.debug_dir),
                        csv=None, output=None, json=False, window=False, show_images=False, progress=False),
        fields=absolute(settings.fields),
    )


# --- Ray -----------------------------------------------------------------------------------------------

@contextlib.contextmanager
def connected(settings: RunSettings, address: str | None) -> Iterator[None]:
    """Ray for this run: the caller's, if it already called ``ray.init``; a cluster to join; or a local
    instance of ``jobs`` actors' worth of CPUs, without dashboard or usage reports (runs offline)."""
    import ray

    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    verbose = settings.outputs.verbose
    quiet = {"logging_level": logging.INFO if verbose else logging.ERROR, "log_to_driver": True}
    try:
        if address is not None:
            _check_reachable(address)
            ray.init(address=address, **quiet)
        else:  # "local": a new instance, even where `ray start` left a cluster running
            cpus = settings.jobs * settings.runtime.threads
            ray.init(address="local", num_cpus=cpus, include_dashboard=False, **quiet)
    except Exception as exc:  # an address that answers nothing, a cluster of another Ray version, ...
        log.debug("ray.init failed", exc_info=True)
        where = f"join the Ray cluster at {address}" if address is not None else "start a local Ray instance"
        raise UsageError(f"cannot {where}: {ray_cause(exc)}") from None
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """A ``host:port`` that accepts no connection fails here at once (Ray would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", ray://..., or whatever else ray.init makes of it
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ConnectionError(f"nothing answers at {address} ({exc.strerror or exc})") from None


@contextlib.contextmanager
def data_context(verbose: bool) -> Iterator[None]:
    """Ray Data set for this run (and put back after): our progress bar and summary, not Ray's too."""
    import ray.data

    context = ray.data.DataContext.get_current()
    wanted = {"enable_progress_bars": False, "print_on_execution_start": verbose, "enable_auto_log_stats": False,
              # Rows are Python objects (Work, Outcome), serialised by Ray as such: said once, not warned about.
              "enable_fallback_to_arrow_object_ext_type": True}
    saved = {name: getattr(context, name) for name in wanted if hasattr(context, name)}
    data_logger = logging.getLogger("ray.data")
    level = data_logger.level
    for name in saved:
        setattr(context, name, wanted[name])
    if not verbose:
        data_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(context, name, value)
        data_logger.setLevel(level)


def planned_actors(settings: RunSettings, address: str | None) -> int | None:
    """``-j N`` actors; None on a cluster without ``-j``: as many as Ray finds CPUs for (it may grow)."""
    if address is None or settings.jobs > 1:
        return settings.jobs
    return None


def batching(inputs: int, actors: int) -> tuple[int, int]:
    """(inputs per batch, actors to start): ``BATCH_INPUTS``, or fewer when there are too few inputs to
    give every actor a batch; never more actors than batches."""
    size = max(1, min(BATCH_INPUTS, math.ceil(inputs / max(1, actors))))
    return size, max(1, min(actors, math.ceil(inputs / size)))


def outcomes(work: list[Work], settings: RunSettings, model: ModelFiles,
             address: str | None) -> Iterator[list[Outcome]]:
    """Each batch's outcomes (one per input), as actors finish them (streamed: nothing waits for the rest)."""
    import ray
    import ray.data

    actors = planned_actors(settings, address)
    cluster_actors = int(ray.cluster_resources().get("CPU", 1) // settings.runtime.threads)
    batch_inputs, pool = batching(len(work), actors if actors is not None else max(1, cluster_actors))
    compute = (ray.data.ActorPoolStrategy(size=pool) if actors is not None
               else ray.data.ActorPoolStrategy(min_size=1, max_size=pool if pool < cluster_actors else None))
    ledger = ray.remote(num_cpus=0, max_restarts=-1)(Ledger).remote()
    rows = [{"work": w} for w in work]  # Python objects: Ray Data serialises them (Ray's own pickling)
    # One block per batch: a task is then one batch, and a retried task repeats exactly that batch.
    dataset = ray.data.from_items(rows, override_num_blocks=math.ceil(len(rows) / batch_inputs))
    dataset = dataset.map_batches(
        DocumentReader, fn_constructor_args=(actor_settings(settings), model, ledger), batch_size=batch_inputs,
        batch_format="numpy", num_cpus=settings.runtime.threads, compute=compute,
    )
    others = set(threading.enumerate())  # a caller's own Ray Data threads are not ours to wait for
    batches = iter(dataset.iter_batches(batch_size=None, batch_format="numpy", prefetch_batches=0))
    try:
        for batch in batches:
            yield list(batch["outcome"])
    finally:
        batches.close()  # Ray Data stops its executor now, not whenever the iterator is collected
        finish_fetching(others)
        with contextlib.suppress(Exception):  # Ray may be gone already (a lost cluster)
            ray.kill(ledger)


def finish_fetching(others: set[threading.Thread], timeout_s: float = FETCH_STOP_S) -> None:
    """Wait for Ray Data's block-fetching threads, but ``others``, to end (a closed iterator's end
    after the fetch in hand). One still fetching after ``ray.shutdown`` calls into Ray's gone core
    worker, and Ray ends the process with status 1, losing the run's exit status and summary.
    Threads are known by the names Ray Data gives them; others are not waited for."""
    deadline = time.monotonic() + timeout_s
    for thread in set(threading.enumerate()) - others:
        if thread.name.startswith(PIPELINE_THREADS):
            thread.join(max(0.0, deadline - time.monotonic()))


# --- the run -------------------------------------------------------------------------------------------

def run(reader: "Reader", stdout: TextIO | None = None) -> int:
    """The driver's ``run`` on Ray: 0 when everything was read, 1 when something failed, 128+n after a
    signal; UsageError (2) for settings Ray cannot serve, raised before Ray starts."""
    settings = reader.settings
    outputs = settings.outputs
    address = settings.ray_address or os.environ.get("RAY_ADDRESS") or None  # `ray job submit` sets it
    check_settings(settings, address)
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None
    done: set[Key] = set()
    if outputs.resume:
        done = finished(outputs.output)
        if outputs.csv is not None:
            done &= finished_csv(outputs.csv)
        log.info("resuming: %d result(s) already in %s", len(done), outputs.output)
    for folder in (outputs.annotate_dir, outputs.debug_dir):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    work = plan(settings, done, tally)
    model = ModelFiles.read(reader.recognizer.classifier.path)
    field_names = load_form_once(settings).spec.names if settings.fields is not None else None
    target = output_file(outputs.output)
    if target is not outputs.output:
        log.info("writing this run's records to %s", target)
    stopped_by: str | None = None
    exit_code = 0
    failure: str | None = None
    with RecordSinks(outputs.json, outputs.csv, target, append=outputs.resume, changes_only=outputs.changes_only,
                     stdout=stdout, fields=field_names) as sinks:
        if work:
            with connected(settings, address), data_context(outputs.verbose), StopOnSignal() as stop:
                progress = progress_bar(settings)
                try:
                    _read_all(work, settings, model, address, sinks, tally, progress, stop)
                except UsageError:
                    raise
                except Exception as exc:  # Ray gave up (actors that cannot start on a node, a lost cluster)
                    if not _from_ray(exc):
                        raise
                    log.debug("the Ray job failed", exc_info=True)
                    failure = ray_cause(exc)
                finally:
                    progress.close()
                stopped_by = stop.signal_name
                exit_code = stop.exit_code
    if target is not None and target != outputs.output and target.stat().st_size == 0:
        target.unlink()  # a resumed run with nothing left to read leaves no empty shard behind
    return finish(tally, outputs, stopped_by, exit_code,
                  failure=None if failure is None else f"the Ray job failed ({failure})")


def _from_ray(exc: BaseException) -> bool:
    import ray.exceptions

    return isinstance(exc, ray.exceptions.RayError) or type(exc).__module__.split(".")[0] == "ray"


def _read_all(work: list[Work], settings: RunSettings, model: ModelFiles, address: str | None, sinks: RecordSinks,
              tally: Tally, progress, stop: StopOnSignal) -> None:
    """Every input through the actors, each batch's records written as it comes; after a stop, the
    batch in hand is written whole and the others are dropped (--resume reads them)."""
    stream = outcomes(work, settings, model, address)
    try:
        for batch in stream:
            for outcome in batch:
                if outcome.skipped is not None:
                    tally.inputs -= 1
                    tally.skipped.append(replace(work[outcome.index].item, skipped=outcome.skipped))
                for result in outcome.results:
                    emit(sinks, result, tally, progress)
            if stop.stopped:
                return
    finally:
        stream.close()
