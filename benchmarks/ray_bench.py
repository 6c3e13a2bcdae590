"""What Ray costs per page: the local engine with two worker processes against Ray Data with two actors.

    python -m benchmarks.ray_bench                # 40 and 80 pages, 3 rounds (a few minutes on 2 cores)
    python -m benchmarks.ray_bench --json out.json

Both engines read the same folders of generated form pages (MNIST test digits, 900x1200) in this
process, one after the other, round after round: N pages, then 2N (the same pages again, as links).
The difference between the two runs is the cost of N pages in steady state; what is left of a run is
its fixed cost (worker processes or actors starting, the model loading). Ray itself is started once,
before the rounds, and timed on its own.

CPU is counted for the whole process tree (this process, its worker processes, and for Ray the
raylet, GCS and the actors), from /proc, so Ray's own daemons are in the bill; the driver's share is
kept apart, since one driver serves every actor of a cluster. Wall time moves with the machine's load
(2 shared cores here); CPU time is the steadier figure.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from .common import load_test_digits, machine

CLOCK = os.sysconf("SC_CLK_TCK")
DISTINCT_PAGES = 20  # generated once; the folders link to them over and over


# --- CPU of a process tree ---------------------------------------------------------------------------

def _processes() -> dict[tuple[int, int], tuple[str, int, float]]:
    """Every process: (pid, start time) -> (name, parent, own CPU seconds), from /proc."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            text = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is stat's third field (state)
        own = (int(fields[11]) + int(fields[12])) / CLOCK  # utime, stime
        table[(int(entry), int(fields[19]))] = (name, int(fields[1]), own)
    return table


class TreeCPU:
    """CPU seconds spent by this process and everything below it while in the ``with`` block.

    Processes come and go (worker processes, Ray's actors and idle workers, reaped or not), so the
    tree is sampled every ``interval`` seconds and each process is charged its own CPU from its first
    sighting (or the start) to its last: at most one interval of a short-lived process is missed. The
    sampler's own CPU is taken off this process's figure.
    """

    def __init__(self, ray_roots: set[int], count_ray: bool, interval: float = 0.05) -> None:
        self.root = os.getpid()
        self.ray_roots = ray_roots  # the processes ray.init started: Ray's, counted only for Ray's runs
        self.count_ray = count_ray
        self.interval = interval
        self.first: dict[tuple[int, int], float] = {}
        self.last: dict[tuple[int, int], tuple[str, float, bool]] = {}
        self._stop = threading.Event()
        self._sampler_cpu = 0.0

    def _sample(self, baseline: bool = False) -> None:
        table = _processes()
        children: dict[int, list[tuple[int, int]]] = {}
        for key, (_, parent, _) in table.items():
            children.setdefault(parent, []).append(key)
        stack = [(k, False) for k in table if k[0] == self.root]
        while stack:
            key, in_ray = stack.pop()
            in_ray = in_ray or key[0] in self.ray_roots
            if in_ray and not self.count_ray:
                continue
            name, _, own = table[key]
            self.first.setdefault(key, own if baseline else 0.0)
            self.last[key] = (name, own, in_ray)
            stack.extend((child, in_ray) for child in children.get(key[0], []))

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()
        self._sampler_cpu = time.thread_time()

    def __enter__(self) -> "TreeCPU":
        self._sample(baseline=True)
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def figures(self) -> dict[str, float]:
        """``total``, ``driver`` (this process), ``ray`` (Ray's daemons: raylet, GCS, agents)."""
        out = {"total": 0.0, "driver": 0.0, "ray": 0.0}
        for key, (name, own, in_ray) in self.last.items():
            spent = own - self.first[key]
            out["total"] += spent
            if key[0] == self.root:
                out["driver"] += spent
            elif in_ray and not name.startswith("ray::"):  # actors and Ray's workers are named ray::...
                out["ray"] += spent
        out["total"] -= self._sampler_cpu
        out["driver"] -= self._sampler_cpu
        return out


# --- the inputs ----------------------------------------------------------------------------------------

def make_folders(root: Path, counts: tuple[int, ...]) -> dict[int, Path]:
    from trainer.synth.pages import DigitBank, make_page

    x_test, y_test = load_test_digits()
    bank = DigitBank(x_test, y_test)
    pages = root / "pages"
    pages.mkdir()
    for i in range(DISTINCT_PAGES):
        page = make_page("clean", bank, seed=7000 + i)
        Image.fromarray(np.ascontiguousarray(page.image[..., ::-1])).save(pages / f"{i:02d}.png")
    folders = {}
    for count in counts:
        folder = root / f"n{count}"
        folder.mkdir()
        for i in range(count):
            (folder / f"{i:04d}.png").symlink_to(pages / f"{i % DISTINCT_PAGES:02d}.png")
        folders[count] = folder
    return folders


# --- one run -------------------------------------------------------------------------------------------

def run_once(engine: str, folder: Path, jobs: int, ray_roots: set[int]) -> dict[str, float]:
    from edge.api import Reader
    from edge.apps import driver
    from edge.apps.recognize import build_parser, settings_from_args

    args = [str(folder), "--engine", engine, "-j", str(jobs), "--json", "--no-progress"]
    if engine == "local":
        args.append("--unordered")  # both engines then write as pages finish
    reader = Reader.from_settings(settings_from_args(build_parser().parse_args(args)))
    sink = io.StringIO()
    with TreeCPU(ray_roots, count_ray=engine == "ray") as cpu:
        start = time.perf_counter()
        if engine == "ray":
            from edge.apps import ray_engine

            code = ray_engine.run(reader, stdout=sink)
        else:
            code = driver.run(reader, stdout=sink)
        wall = time.perf_counter() - start
    lines = sink.getvalue().count("\n")
    if code != 0 or lines != len(os.listdir(folder)):
        raise SystemExit(f"{engine} on {folder}: exit {code}, {lines} records")
    figures = cpu.figures()
    return {"wall": wall, "cpu": figures["total"], "driver": figures["driver"], "daemons": figures["ray"]}


def per_page(small: list[dict], large: list[dict], n: int) -> dict[str, float]:
    """Steady-state cost of one page and fixed cost of a run: from each round's N- and 2N-page runs,
    the median over rounds, and the lowest and highest round (this machine's noise, in plain sight)."""
    out = {}
    for what in ("wall", "cpu", "driver", "daemons"):
        rounds = sorted((b[what] - a[what]) / n for a, b in zip(small, large))
        page = statistics.median(rounds)
        out[f"{what}_ms_per_page"] = round(1000 * page, 2)
        out[f"{what}_ms_per_page_range"] = [round(1000 * rounds[0], 1), round(1000 * rounds[-1], 1)]
        out[f"{what}_fixed_s"] = round(statistics.median(r[what] for r in small) - n * page, 2)
    out["pages_per_s"] = round(1000 / out["wall_ms_per_page"], 1) if out["wall_ms_per_page"] > 0 else None
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=40, help="N: runs of N and 2N pages (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four runs (default 3; medians)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes and actors (default 2)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR, format="%(message)s")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    import ray

    n = args.pages
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as tmp:
        folders = make_folders(Path(tmp), (n, 2 * n))
        before = {pid for pid, _ in _processes()}
        start = time.perf_counter()
        ray.init(address="local", num_cpus=args.jobs, include_dashboard=False, logging_level=logging.ERROR)
        ray_start = time.perf_counter() - start
        ray_roots = {pid for pid, _ in _processes() if pid not in before}
        for engine in ("local", "ray"):  # warm-up, not counted: first imports, page cache, Ray's worker pool
            run_once(engine, folders[n], args.jobs, ray_roots)
        runs: dict[str, dict[int, list]] = {"local": {n: [], 2 * n: []}, "ray": {n: [], 2 * n: []}}
        for round_ in range(args.rounds):
            for count in (n, 2 * n):
                for engine in ("local", "ray"):
                    runs[engine][count].append(run_once(engine, folders[count], args.jobs, ray_roots))
                    print(f"round {round_ + 1}: {engine} {count} pages: "
                          + ", ".join(f"{k} {v:.2f} s" for k, v in runs[engine][count][-1].items()), file=sys.stderr)
        ray.shutdown()
    figures = {engine: per_page(runs[engine][n], runs[engine][2 * n], n) for engine in runs}
    local, remote = figures["local"], figures["ray"]
    report = {
        "machine": machine(),
        "load_average": os.getloadavg(),
        "jobs": args.jobs,
        "pages": [n, 2 * n],
        "rounds": args.rounds,
        "ray_version": ray.__version__,
        "ray_start_s": round(ray_start, 2),
        "engines": figures,
        "ray_cpu_overhead_ms_per_page": round(remote["cpu_ms_per_page"] - local["cpu_ms_per_page"], 2),
        "runs": runs,
    }
    print(f"\n{machine()}; load average {report['load_average'][0]:.1f}; Ray {ray.__version__}, "
          f"{args.jobs} actors against {args.jobs} worker processes; runs of {n} and {2 * n} pages, "
          f"medians of {args.rounds}\n")
    print("| engine | pages/s | wall ms/page | CPU ms/page (rounds' range) | of which driver | of which Ray daemons "
          "| fixed wall s/run | fixed CPU s/run |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for engine, f in figures.items():
        low, high = f["cpu_ms_per_page_range"]
        print(f"| {engine} -j {args.jobs} | {f['pages_per_s']} | {f['wall_ms_per_page']} | "
              f"{f['cpu_ms_per_page']} ({low}-{high}) | {f['driver_ms_per_page']} | {f['daemons_ms_per_page']} | "
              f"{f['wall_fixed_s']} | {f['cpu_fixed_s']} |")
    print(f"\nRay adds {report['ray_cpu_overhead_ms_per_page']} ms of CPU per page "
          f"({100 * report['ray_cpu_overhead_ms_per_page'] / local['cpu_ms_per_page']:.0f}% of the local engine's); "
          f"starting Ray took {ray_start:.1f} s")
    if remote["driver_ms_per_page"] > 0:
        cores = remote["cpu_ms_per_page"] / remote["driver_ms_per_page"]
        print(f"Extrapolation, not measured: one driver spends {remote['driver_ms_per_page']} ms per page, so it "
              f"keeps up with about {1000 / remote['driver_ms_per_page']:.0f} pages/s, the work of about "
              f"{cores:.0f} cores at {remote['cpu_ms_per_page']} ms of CPU per page")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
