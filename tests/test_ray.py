"""``--engine ray``: the local engine's records from Ray Data actors, through stops, resumes and deaths.

A folder of 30 generated pages, a corrupt PNG, a two-page TIFF and a text file is read by the local
engine once (the reference); every Ray run must give the same records (all but ``ms``), exactly one
per input and page. Most runs share one local Ray instance with two CPUs, started by this module (the
engine uses a Ray it finds initialised); the command-line runs start their own, as a user's would.

Ray Data has wheels for Python 3.10-3.14 on Linux x86-64 and aarch64, macOS arm64 and Windows x86-64
(the ``ray`` extra); elsewhere, and in environments made without the extra, these tests are skipped.
``make test`` installs it in the litert environment and sets REQUIRE_RAY there, so that a missing
Ray fails instead of skipping.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import edge.apps.recognize
from edge.api import Reader
from edge.apps import driver
from edge.apps.recognize import build_parser, settings_from_args
from helpers import app_env

RECOGNIZE = Path(edge.apps.recognize.__file__)
CRASH_ON = Path(__file__).resolve().parent / "data" / "crash_on"  # its sitecustomize.py crashes readers
N_PAGES = 30
PAGE_SIZE = (300, 560)
LONG_COPIES = 3  # long/ holds the pages this many times over (as links): a run long enough to stop


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


HAVE_RAY = _ray_available()
needs_ray = pytest.mark.skipif(
    not HAVE_RAY and not os.environ.get("REQUIRE_RAY"),
    reason="Ray Data is not installed here (pip install '.[ray]': wheels for Python 3.10-3.14 on Linux "
           "x86-64/aarch64, macOS arm64, Windows x86-64); make test runs these in the litert environment")


# --- the inputs and the reference ----------------------------------------------------------------------

@dataclass
class Forms:
    root: Path
    reference: dict  # (source, page) -> the local engine's record, without "ms"

    def long_reference(self) -> dict:
        """What long/ (the pages several times over, as links) reads as."""
        out = {}
        for i in range(LONG_COPIES * N_PAGES):
            name = f"long/{i:03d}.png"
            out[(name, None)] = {**self.reference[(f"scans/page-{i % N_PAGES:02d}.png", None)], "source": name}
        return out


def key(record: dict) -> tuple:
    return (record["source"], record.get("page"))


def without_ms(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "ms"}


def complete_records(path: Path) -> list[dict]:
    """Every line of a result file (or of a folder's shards), each a whole JSON object."""
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    records = []
    for file in files:
        text = file.read_text(encoding="utf-8")
        assert text == "" or text.endswith("\n"), f"half-written last line in {file.name}: {text[-80:]!r}"
        records += [json.loads(line) for line in text.splitlines()]
    return records


def one_per_key(records: list[dict]) -> dict:
    """The records by (source, page), failing on any duplicate."""
    keyed = {}
    for record in records:
        assert key(record) not in keyed, f"two records for {key(record)}"
        keyed[key(record)] = without_ms(record)
    return keyed


class chdir:
    def __init__(self, path: Path) -> None:
        self.path, self.old = path, None

    def __enter__(self) -> None:
        self.old = os.getcwd()
        os.chdir(self.path)

    def __exit__(self, *exc) -> None:
        os.chdir(self.old)


def run_engine(*args, stdout: io.StringIO | None = None) -> int:
    """What ``digits-recognize ARGS`` does, in this process (cwd decides the names): the exit status."""
    settings = settings_from_args(build_parser().parse_args([str(a) for a in args]))
    reader = Reader.from_settings(settings)
    stdout = stdout if stdout is not None else io.StringIO()
    if settings.engine == "ray":
        from edge.apps import ray_engine

        return ray_engine.run(reader, stdout=stdout)
    return driver.run(reader, stdout=stdout)


def run_cli(*args, cwd: Path, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(RECOGNIZE), *map(str, args)], cwd=cwd, capture_output=True,
                          encoding="utf-8", timeout=timeout, env=app_env(**(env or {})))


@pytest.fixture(scope="module")
def forms(tmp_path_factory) -> Forms:
    from trainer.synth.pages import make_page

    root = tmp_path_factory.mktemp("forms")
    scans = root / "scans"
    scans.mkdir()
    pages = []
    for i in range(N_PAGES):
        page = make_page("hershey", None, seed=300 + i, size=PAGE_SIZE, n_lines=2)
        pages.append(np.ascontiguousarray(page.image[..., ::-1]))
        Image.fromarray(pages[-1]).save(scans / f"page-{i:02d}.png")
    data = (scans / "page-00.png").read_bytes()
    (scans / "corrupt.png").write_bytes(data[: len(data) // 3])  # a scan cut short in transfer
    Image.fromarray(pages[1]).save(scans / "two-pages.tif", "TIFF", save_all=True,
                                   append_images=[Image.fromarray(pages[2])], compression="tiff_lzw")
    (scans / "notes.txt").write_text("not a scan\n", encoding="utf-8")
    (root / "long").mkdir()
    for i in range(LONG_COPIES * N_PAGES):
        (root / "long" / f"{i:03d}.png").symlink_to(f"../scans/page-{i % N_PAGES:02d}.png")
    # Objects without an extension, as some scanners and buckets name them: one is a PNG, one is not.
    (root / "bare").mkdir()
    shutil.copyfile(scans / "page-03.png", root / "bare" / "scan0001")
    (root / "bare" / "README").write_text("scans from the front desk\n", encoding="utf-8")

    with chdir(root):
        code = run_engine("scans", "-o", "local.jsonl")
    assert code == 1  # the corrupt file
    records = complete_records(root / "local.jsonl")
    reference = one_per_key(records)
    assert len(reference) == N_PAGES + 1 + 2
    assert reference[("scans/two-pages.tif", 2)]["digits"]  # real readings to compare, not empty pages
    assert "error" in reference[("scans/corrupt.png", None)]
    return Forms(root, reference)


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray with two CPUs for this module's in-process runs (CI's machine has two cores)."""
    if not HAVE_RAY:
        pytest.fail("REQUIRE_RAY is set but Ray Data cannot be imported")
    import ray

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR)
    yield ray
    ray.shutdown()


def reader_actors(ray) -> list:
    """Handles of the live DocumentReader actors (Ray's actor table; this process owns them)."""
    from ray._private import state

    handles = []
    for actor_id, info in state.actors().items():
        if "DocumentReader" in info["ActorClassName"] and info["State"] == "ALIVE":
            core = ray._private.worker.global_worker.core_worker
            handles.append(core.get_actor_handle(ray.ActorID.from_hex(actor_id)))
    return handles


def restarts(ray) -> int:
    from ray._private import state

    return sum(info.get("NumRestarts", 0) for info in state.actors().values()
               if "DocumentReader" in info["ActorClassName"])


def wait_for_lines(path: Path, count: int, timeout: float = 240) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            lines = path.read_bytes().count(b"\n")
            if lines >= count:
                return lines
        time.sleep(0.005)
    raise AssertionError(f"no {count} results in {path} after {timeout} s")


# --- the same records ----------------------------------------------------------------------------------

@pytest.mark.slow
@needs_ray
def test_same_records_as_the_local_engine(forms, ray_instance, tmp_path):
    out = tmp_path / "ray.jsonl"
    stdout = io.StringIO()
    with chdir(forms.root):
        code = run_engine("scans", "--engine", "ray", "-j", 2, "--json", "-o", out, stdout=stdout)

    assert code == 1  # the corrupt file, as in local mode
    records = complete_records(out)
    assert one_per_key(records) == forms.reference
    assert [json.loads(line) for line in stdout.getvalue().splitlines()] == records


@pytest.mark.slow
@needs_ray
def test_object_storage_uris_read_like_files(forms, ray_instance, tmp_path):
    """A URI (here file://, the one every machine has) is listed through Ray Data's filesystems and
    read as bytes by the actors; names are the URIs. Objects without an extension are read when their
    content is an image, and left out (with the summary line) when not, as folders are locally."""
    base = forms.root.as_uri()
    out = tmp_path / "uri.jsonl"
    with chdir(forms.root):
        code = run_engine(f"{base}/scans", f"{base}/bare", "--engine", "ray", "-j", 2, "-o", out)

    assert code == 1
    expected = {(f"{base}/{name}", page): {**record, "source": f"{base}/{name}"}
                for (name, page), record in forms.reference.items()}
    expected[(f"{base}/bare/scan0001", None)] = {**forms.reference[("scans/page-03.png", None)],
                                                 "source": f"{base}/bare/scan0001"}
    records = one_per_key(complete_records(out))
    corrupt = (f"{base}/scans/corrupt.png", None)
    # The same bytes, handed over in memory instead of by path: the same reading, the same error.
    assert records == expected, set(records) ^ set(expected)
    assert records[corrupt] == expected[corrupt]


# --- stops, resumes, deaths ----------------------------------------------------------------------------

@pytest.mark.slow
@needs_ray
def test_ctrl_c_then_resume_gives_one_record_per_input(forms, ray_instance, tmp_path):
    """Ctrl+C (SIGINT to the command's process group, Ray's processes included) stops the command line
    cleanly half way; --resume reads the rest, and every input has exactly one record."""
    for folder in ("scans", "long"):
        (tmp_path / folder).symlink_to(forms.root / folder)
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen([sys.executable, str(RECOGNIZE), "long", "--engine", "ray", "-j", "2", "-o", out.name],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8",
                               env=app_env(), start_new_session=True)
    try:
        wait_for_lines(out, 8)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    total = LONG_COPIES * N_PAGES
    done = complete_records(out)
    assert process.returncode == 128 + signal.SIGINT, stderr
    assert "stopped by SIGINT" in stderr and "--resume --output out.jsonl" in stderr
    assert "Traceback" not in stderr
    assert 8 <= len(done) < total, f"stopped after {len(done)} of {total}: not half way"
    one_per_key(done)

    with chdir(tmp_path):
        code = run_engine("long", "--engine", "ray", "-j", 2, "-o", out.name, "--resume")

    assert code == 0
    assert one_per_key(complete_records(out)) == forms.long_reference()


@pytest.mark.slow
@needs_ray
def test_actors_killed_mid_run_lose_nothing(forms, ray_instance, tmp_path):
    """Both actors killed with Ray's own API (ray.kill, restart allowed) while reading: Ray replaces
    them and retries their batches; every input still has exactly one record."""
    ray = ray_instance
    for folder in ("scans", "long"):
        (tmp_path / folder).symlink_to(forms.root / folder)
    out = tmp_path / "out.jsonl"
    total = LONG_COPIES * N_PAGES
    killed: list[int] = []  # the records on disk when the actors were killed
    before = restarts(ray)

    def kill_when_reading() -> None:
        lines = wait_for_lines(out, 8)
        actors = reader_actors(ray)
        for actor in actors:
            ray.kill(actor, no_restart=False)
        killed.append(lines if actors else -1)

    killer = threading.Thread(target=kill_when_reading, daemon=True)
    killer.start()
    with chdir(tmp_path):
        code = run_engine("long", "--engine", "ray", "-j", 2, "-o", out.name)
    killer.join(timeout=10)

    assert killed and 0 < killed[0] < total, f"actors killed after {killed} of {total} records: not mid-run"
    assert restarts(ray) >= before + 1  # Ray restarted what was killed
    assert code == 0
    assert one_per_key(complete_records(out)) == forms.long_reference()


@pytest.mark.slow
@needs_ray
def test_an_input_that_kills_its_reader_costs_that_input_only(forms, tmp_path):
    """The command line with its own Ray: a reader that dies on one input (here it SIGKILLs itself, as
    a decoder crash would, by the tests' sitecustomize.py) is replaced, the inputs of its batch are
    read again, and only the input that killed it each time gets an error record; the job goes on."""
    (tmp_path / "scans").symlink_to(forms.root / "scans")
    path = os.pathsep.join([str(CRASH_ON)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else []))
    result = run_cli("scans", "--engine", "ray", "-j", 2, "-o", "out.jsonl", cwd=tmp_path,
                     env={"EDGE_TEST_CRASH_ON": "page-07.png", "PYTHONPATH": path})

    from edge.apps.ray_engine import READER_DEATHS

    assert result.returncode == 1, result.stderr
    message = f"its reader died {READER_DEATHS} times reading it (a Ray actor, replaced each time)"
    poisoned = ("scans/page-07.png", None)
    expected = {**forms.reference, poisoned: {"source": poisoned[0], "error": message}}
    assert one_per_key(complete_records(tmp_path / "out.jsonl")) == expected
    # stderr: one line per failed input and the skipped file, as locally; no Ray progress bars, no traceback.
    lines = [line for line in result.stderr.splitlines() if line.startswith("digits-recognize: ")]
    assert f"digits-recognize: scans/page-07.png: {message}" in lines
    assert any(line.startswith("digits-recognize: scans/corrupt.png: ") for line in lines)
    assert "digits-recognize: skipped 1 file that is not an image or PDF: scans/notes.txt" in lines
    assert "Traceback" not in result.stderr and "Running Dataset" not in result.stderr


@pytest.mark.slow
@needs_ray
def test_output_folder_gets_a_shard_per_run_and_resumes_from_all(forms, ray_instance, tmp_path):
    """--output DIR: records already in the folder's shards (here an earlier run's, cut off mid-line
    by a kill) are skipped, and this run writes the rest into a shard of its own."""
    shards = tmp_path / "results"
    shards.mkdir()
    earlier = [json.loads(line) for line in (forms.root / "local.jsonl").read_text(encoding="utf-8").splitlines()]
    half = len(earlier) // 2
    lines = [json.dumps(r) + "\n" for r in earlier[:half]]
    (shards / "part-earlier.jsonl").write_text("".join(lines) + lines[-1][:20], encoding="utf-8")
    (tmp_path / "scans").symlink_to(forms.root / "scans")

    with chdir(tmp_path):
        code = run_engine("scans", "--engine", "ray", "-j", 2, "-o", shards, "--resume")

    assert code == 0  # the corrupt file's error is among the earlier records: nothing failed this time
    new = [p for p in shards.iterdir() if p.name != "part-earlier.jsonl"]
    assert len(new) == 1 and new[0].suffix == ".jsonl"
    assert len(complete_records(new[0])) == len(earlier) - half
    assert one_per_key(complete_records(shards)) == forms.reference


# --- usage -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--camera"], "--engine ray reads images and documents"),
    (["clip.mp4"], "--engine ray reads images and documents"),
    (["scans", "--ray-address", "127.0.0.1:9", "--out", "annotated"], "--out writes images on the machine"),
])
@pytest.mark.slow
def test_what_ray_cannot_do_is_a_usage_error_before_ray_starts(args, message, tmp_path):
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "scans").mkdir()
    result = run_cli("--engine", "ray", *args, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.slow
def test_the_local_engine_never_imports_ray():
    """Ray takes seconds to import: only --engine ray may pay for it."""
    code = ("import sys, edge.apps.recognize, edge.apps.driver, edge.apps.ray_engine, edge.api; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], env=app_env()).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(HAVE_RAY, reason="Ray is installed here")
def test_without_ray_the_engine_says_how_to_install_it(tmp_path):
    (tmp_path / "a.png").write_bytes(b"")
    result = run_cli("--engine", "ray", "a.png", cwd=tmp_path, timeout=60)
    assert result.returncode == 2 and "pip install 'edge-digits[ray]'" in result.stderr, result.stderr
