"""Batches that survive interruption: SIGKILL and --resume, SIGINT/SIGTERM, worker processes.

Each test runs the real command line (``python edge/recognize.py``) in a subprocess on a folder of
generated pages, interrupts it for real, and compares what ends up on disk with an uninterrupted
run of the same folder (records compared without their timing field, "ms").
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edge.apps.recognize
from trainer.synth.pages import make_page
from edge.apps.driver import RunSettings, read_document
from edge.apps.workers import WorkerPool
from edge.pipeline.recognizer import build_recognizer
from edge.sources.files import expand_sources
from edge.sources.streams import Input
from edge.runtime.settings import usable_cpus
from helpers import app_env

RECOGNIZE = Path(edge.apps.recognize.__file__)
N_PAGES = 16
PAGE_SIZE = (300, 560)


CRASH_ON = Path(__file__).resolve().parent / "data" / "crash_on"  # its sitecustomize.py crashes workers


def cli_env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "EDGE_TEST_CRASH_ON"}
    env.update(extra or {})
    return env


def run_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RECOGNIZE), *map(str, args)], cwd=cwd, capture_output=True,
                          encoding="utf-8", timeout=timeout, env=cli_env(env))


def start_cli(*args, cwd: Path) -> subprocess.Popen:
    # A session of its own, so that signalling its process group reaches its workers and nothing else.
    return subprocess.Popen([sys.executable, str(RECOGNIZE), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, encoding="utf-8", env=cli_env(), start_new_session=True)


def wait_for_lines(path: Path, count: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= count:
            return
        if process.poll() is not None:
            pytest.fail(f"the batch ended (exit {process.returncode}) before writing {count} results: "
                        f"{process.stderr.read()}")
        time.sleep(0.002)
    process.kill()
    pytest.fail(f"no {count} results in {path} after {timeout} s")


def without_timing(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "ms"} for r in records]


def complete_records(path: Path) -> list[dict]:
    """Every line of a result file, each of which must be a whole JSON object ending in a newline."""
    text = path.read_text(encoding="utf-8")
    assert text == "" or text.endswith("\n"), f"half-written last line: {text[-80:]!r}"
    return [json.loads(line) for line in text.splitlines()]


@dataclass
class Batch:
    root: Path
    names: list[str]  # sources as the command line prints them, in input order
    reference: list[dict]  # an uninterrupted serial run, without timings
    reference_lines: list[str]  # the same, as written (with timings)

    def long_reference(self) -> list[dict]:
        """What long/ (the pages four times over, as links) reads as."""
        return [{**self.reference[i % N_PAGES], "source": f"long/{i:02d}.png"} for i in range(4 * N_PAGES)]


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    root = tmp_path_factory.mktemp("batch")
    folder = root / "scans"
    folder.mkdir()
    for i in range(N_PAGES):
        page = make_page("hershey", None, seed=100 + i, size=PAGE_SIZE, n_lines=2)
        Image.fromarray(np.ascontiguousarray(page.image[..., ::-1])).save(folder / f"page-{i:02d}.png")
    # A longer batch for the signal tests: with two workers, results that finish out of order are
    # written in a burst once the slow one catches up, so a short batch may be over before any signal.
    (root / "long").mkdir()
    for i in range(4 * N_PAGES):
        (root / "long" / f"{i:02d}.png").symlink_to(f"../scans/page-{i % N_PAGES:02d}.png")
    result = run_cli("scans", "-o", "reference.jsonl", cwd=root)
    assert result.returncode == 0, result.stderr
    lines = (root / "reference.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    records = [json.loads(line) for line in lines]
    names = [f"scans/page-{i:02d}.png" for i in range(N_PAGES)]
    assert [r["source"] for r in records] == names
    assert all(r["digits"] for r in records)  # real readings to compare, not empty pages
    return Batch(root, names, without_timing(records), lines)


@pytest.fixture
def workdir(batch, tmp_path) -> Path:
    """A fresh folder whose scans/ is the batch's folder (so every test starts without results)."""
    for folder in ("scans", "long"):
        (tmp_path / folder).symlink_to(batch.root / folder)
    return tmp_path


# --- SIGKILL and --resume ------------------------------------------------------------------------


@pytest.mark.slow
def test_sigkill_then_resume_gives_the_uninterrupted_result(batch, workdir):
    out = workdir / "out.jsonl"
    process = start_cli("scans", "-o", out.name, cwd=workdir)
    wait_for_lines(out, 3, process)
    process.kill()
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL
    done = out.read_bytes().count(b"\n")
    assert 3 <= done < N_PAGES, f"killed after {done} of {N_PAGES}: not mid-way"

    resumed = run_cli("scans", "-o", out.name, "--resume", cwd=workdir)

    assert resumed.returncode == 0, resumed.stderr
    assert len(resumed.stdout.splitlines()) == N_PAGES - done  # only the missing ones were read
    assert without_timing(complete_records(out)) == batch.reference


@pytest.mark.slow
def test_half_written_last_line_is_repaired_on_resume(batch, workdir):
    out = workdir / "out.jsonl"
    cut = batch.reference_lines[5]
    out.write_text("".join(batch.reference_lines[:5]) + cut[: len(cut) // 2], encoding="utf-8")

    resumed = run_cli("scans", "-o", out.name, "--resume", "--json", cwd=workdir)

    assert resumed.returncode == 0, resumed.stderr
    assert [json.loads(line)["source"] for line in resumed.stdout.splitlines()] == batch.names[5:]
    assert without_timing(complete_records(out)) == batch.reference


@pytest.mark.slow
def test_resume_tells_apart_names_that_differ_only_in_undecodable_bytes(tmp_path):
    """Two inputs whose names differ in a non-UTF-8 byte: a resumed batch must still read both."""
    page = make_page("hershey", None, seed=7, size=PAGE_SIZE, n_lines=2)
    folder = tmp_path / "scans"
    folder.mkdir()
    for raw in (b"caf\xe8.png", b"caf\xe9.png"):
        Image.fromarray(np.ascontiguousarray(page.image[..., ::-1])).save(os.path.join(os.fsencode(folder), raw))
    first = run_cli("scans", "-o", "out.jsonl", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    assert len(lines) == 2
    (tmp_path / "out.jsonl").write_text(lines[0], encoding="utf-8")  # as if killed after the first

    resumed = run_cli("scans", "-o", "out.jsonl", "--resume", cwd=tmp_path)

    assert resumed.returncode == 0, resumed.stderr
    assert len(complete_records(tmp_path / "out.jsonl")) == 2, "the second input was skipped as already read"


# --- SIGINT and SIGTERM ---------------------------------------------------------------------------


@pytest.mark.parametrize("signame,jobs,target", [
    ("SIGINT", 1, "process"),
    ("SIGTERM", 1, "process"),
    ("SIGINT", 2, "group"),  # Ctrl+C in a terminal reaches the workers too
    ("SIGTERM", 2, "group"),  # as `kill -TERM -PGID`, systemd and container runtimes stop a service
])
@pytest.mark.slow
def test_signal_stops_after_the_current_image_with_everything_written(signame, jobs, target, batch, workdir):
    out = workdir / "out.jsonl"
    expected = batch.long_reference()
    process = start_cli("long", "-o", out.name, "--jobs", jobs, cwd=workdir)
    wait_for_lines(out, 3, process)
    signum = getattr(signal, signame)
    if target == "group":
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 128 + signum, stderr
    records = complete_records(out)
    assert 3 <= len(records) < len(expected), f"stopped after {len(records)} of {len(expected)}"
    assert without_timing(records) == expected[: len(records)], "stopping cost or changed a result"
    assert stderr.splitlines() == [
        f"digits-recognize: {signame} received: finishing the current image or frame, then stopping",
        f"digits-recognize: stopped by {signame}: {len(records)} read, 0 failed; "
        f"continue with --resume --output {out.name}",
    ]



# --- worker processes -----------------------------------------------------------------------------


@pytest.mark.slow
def test_unordered_jobs_give_the_same_records(batch, workdir):
    result = run_cli("scans", "-o", "out.jsonl", "--jobs", 2, "--unordered", cwd=workdir)
    assert result.returncode == 0, result.stderr
    records = without_timing(complete_records(workdir / "out.jsonl"))
    assert len(records) == N_PAGES
    assert sorted(records, key=lambda r: r["source"]) == batch.reference


@pytest.mark.slow
def test_more_jobs_and_threads_than_cpus_are_cut_to_the_cpus(batch, workdir):
    """-j 1000 started a thousand worker processes, each with its own interpreter and models, until
    the machine ran out of memory; now the run uses the CPUs it has, says so once, and reads the same
    (asked here for four times the CPUs, which the old code would start without running out)."""
    cpus = usable_cpus()
    asked = 4 * cpus
    result = run_cli("scans", "-o", "out.jsonl", "--jobs", asked, "--threads", asked, cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"digits-recognize: --jobs {asked}: this process may use {cpus} CPU(s); using {cpus}",
        f"digits-recognize: --threads {asked}: this process may use {cpus} CPU(s); using {cpus}",
    ]
    assert without_timing(complete_records(workdir / "out.jsonl")) == batch.reference


@pytest.mark.slow
def test_jobs_keep_input_order_and_a_dying_worker_costs_one_image(batch, workdir):
    """Two workers, results in input order; a worker that crashes (here it SIGKILLs itself, as a
    decoder crash would, by the tests' sitecustomize.py) is replaced, and only the image it was
    reading is an error."""
    path = os.pathsep.join([str(CRASH_ON)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    result = run_cli("scans", "-o", "out.jsonl", "--jobs", 2, "--json", cwd=workdir,
                     env={"EDGE_TEST_CRASH_ON": "page-07.png", "PYTHONPATH": path})
    assert result.returncode == 1
    records = without_timing(complete_records(workdir / "out.jsonl"))
    assert without_timing([json.loads(line) for line in result.stdout.splitlines()]) == records
    assert [r["source"] for r in records] == batch.names
    poisoned = {"scans/page-07.png"}
    message = "the worker reading this input died (killed by signal 9); it was replaced"
    for record, expected in zip(records, batch.reference):
        if record["source"] in poisoned:
            assert record == {"source": record["source"], "error": message}
        else:
            assert record == expected
    assert sorted(result.stderr.splitlines()) == sorted(f"digits-recognize: {s}: {message}" for s in poisoned)


def _listed(count: int):
    """Inputs that carry their own error: a worker answers them at once, without decoding anything."""
    for i in range(count):
        yield Input(f"input-{i:02d}.png", "document", error=f"error {i}")


def _cheap_pool(jobs: int) -> WorkerPool:
    # Workers that need no model: the inputs above never reach a recogniser.
    return WorkerPool(jobs, dict, partial(read_document, settings=RunSettings()))


@pytest.mark.slow
def test_worker_dying_while_idle_is_replaced():
    """The OOM killer does not wait for a worker to be busy: a worker found dead must not end the batch."""
    with _cheap_pool(2) as pool:
        victim = pool.workers[1].process
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        outcomes = [result for results in pool.run(_listed(6)) for result in results]
    assert [o.record for o in outcomes] == [
        {"source": f"input-{i:02d}.png", "error": f"error {i}"} for i in range(6)
    ]


@pytest.mark.slow
def test_ordered_results_wait_in_a_bounded_buffer(tmp_path):
    """Behind one slow image, the other worker's results wait for their turn in memory (and are not
    yet written): that wait must be a bounded window, not the rest of the folder."""
    slow = tmp_path / "slow.png"
    tile = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    Image.fromarray(np.tile(tile, (90, 90))).save(slow, compress_level=1)  # 5760x5760: a second or so

    def inputs(pulled: list[int]):
        yield Input("slow.png", "document", path=slow)
        for i in range(3000):
            pulled.append(i)
            yield Input(f"input-{i:04d}.png", "document", error=f"error {i}")

    pulled: list[int] = []
    with WorkerPool(2, partial(build_recognizer), partial(read_document, settings=RunSettings())) as pool:
        stream = pool.run(inputs(pulled))
        assert next(stream)[0].source == "slow.png"
        waiting = len(pulled)
        assert len(list(stream)) == 3000
    assert waiting <= 200, f"{waiting} inputs taken (their results held in memory) while one image was read"


def test_sources_are_streamed(tmp_path, monkeypatch):
    """Folders are listed when reached, one at a time; listing never opens an image."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            (tmp_path / folder / f"{i}.png").write_bytes(b"not opened while listing")
    listed: list[str] = []
    real_scandir = os.scandir

    def scandir(path="."):
        listed.append(Path(path).name)
        return real_scandir(path)

    def no_decoding(*args, **kwargs):
        raise AssertionError("an image was opened while listing sources")

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(Image, "open", no_decoding)
    stream = expand_sources([str(tmp_path / "a"), str(tmp_path / "b")])
    assert isinstance(stream, types.GeneratorType)
    assert listed == []
    assert next(stream).name == str(tmp_path / "a" / "0.png")
    assert listed == ["a"]
    assert [s.name for s in stream][-1] == str(tmp_path / "b" / "2.png")
    assert listed == ["a", "b"]


# What a command process reports after starting: OpenBLAS's setting and the process's thread count.
_STARTED = ("import os, sys\n"
            "from edge.apps import recognize\n"
            "assert 'numpy' not in sys.modules, 'importing the command loads numpy before its settings'\n"
            "recognize.main(['--version'])\n"
            "print(os.environ['OPENBLAS_NUM_THREADS'], len(os.listdir('/proc/self/task')))\n")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="counts threads in /proc")
def test_the_command_starts_without_a_blas_thread_pool():
    """numpy's BLAS pool spins idle threads at start-up: the command sets it to one thread before
    numpy loads (as many threads as when the user sets it so), and keeps a number the user chose."""
    env = {k: v for k, v in app_env().items() if k != "OPENBLAS_NUM_THREADS"}

    def started(**extra: str) -> list[str]:
        result = subprocess.run([sys.executable, "-c", _STARTED], env={**env, **extra}, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()[-1].split()

    own, by_hand, chosen = started(), started(OPENBLAS_NUM_THREADS="1"), started(OPENBLAS_NUM_THREADS="2")
    assert own == by_hand and own[0] == "1"
    assert chosen[0] == "2"
