#!/usr/bin/env python3
"""Prove the Raspberry Pi install: the README's commands in aarch64 Debian roots, under emulation.

Debian bookworm is the base of Raspberry Pi OS Bookworm (Python 3.11), trixie that of Trixie (Python
3.13). In each, this check makes a virtual environment and installs a snapshot of this checkout
exactly as the README tells a Pi user to (`python3 -m venv ENV && ENV/bin/pip install '.[edge]'`),
reads the bundled examples and a few generated pages and camera frames with `digits-recognize FILES
--json`, and compares every record with the same files read by the same snapshot on this x86
machine with the same interpreter (tflite-runtime 2.14 under Python 3.11, or LiteRT): same digits,
numbers and text, boxes within BOX_TOLERANCE_PX, confidences within CONFIDENCE_TOLERANCE. Only the
command line and its JSON Lines records are relied on. (The two interpreters' int8 kernels round
differently: on x86 too their confidences differ by up to about 0.03, so each environment is
compared with its own interpreter; the report shows how far the two x86 readings are apart.)

What it does not prove: a camera, a display, or how fast a real Pi is (times are emulated).

Host needs: root, binfmt_misc with Debian's qemu-user-static (qemu-aarch64 registered with the F
flag), mmdebstrap, unshare (util-linux), git, network access to Debian and PyPI. `--preflight`
says in one line whether this machine can run the check. Roots and pip's downloads are cached under
--cache; a cached root is reused only while it is younger than ROOT_MAX_AGE_DAYS and `dpkg --verify`
finds its packaged files unchanged.

    python3 .ci/pi-check/pi_check.py --tflite-python python3.11 --litert-python python3.12
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent.parent
IN_ROOT = HERE / "in-root"
MAKE_INPUTS = HERE / "make_inputs.py"
PROBE = "/opt/pi-check/src/.ci/pi-check/probe.py"  # inside a root: the snapshot's copy

DEFAULT_MIRROR = "http://deb.debian.org/debian"
EATMYDATA_HOOK = Path("/usr/share/mmdebstrap/hooks/eatmydata")
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edge-digits" / "pi-check"
# Debian's python3-numpy, python3-pil and python3-opencv: what the --system-site-packages route (for
# Picamera2, which apt installs) finds beside the virtual environment.
DEBIAN_PYTHON = ("python3-numpy", "python3-pil", "python3-opencv")
# A minimal image plus what a Pi user needs: python3-venv is not in a minimal Debian/Pi OS Lite.
ROOT_PACKAGES = {
    "bookworm": ("python3-venv", "ca-certificates", *DEBIAN_PYTHON),
    "trixie": ("python3-venv", "ca-certificates"),
}
# A cached root older than this is rebuilt, so that Debian's updates are picked up.
ROOT_MAX_AGE_DAYS = 30
# Arm and x86 kernels (OpenCV resize, thresholds) may round a pixel differently.
BOX_TOLERANCE_PX = 2
# int8 outputs step by 1/256 (0.0039). Emulated Arm kernels and x86 ones agree on almost every digit;
# a few unsure digits moved: by up to 4 steps (0.016) with the first digit model, and with the one
# retrained on 2026-12-03, one unsure 3 of a ruled page (0.77 on x86 LiteRT) by 13 steps (0.051)
# under LiteRT on Arm, its digit, box and number the same. Kernels that compute wrongly (qemu's
# default CPU model) turn every digit into another, far beyond this.
CONFIDENCE_TOLERANCE = 0.06
# Limits in seconds (emulated, on a loaded 2-core machine), so that a stuck download or a hang ends
# the check instead of the CI run: making a root, one pip install, reading the inputs.
ROOT_TIMEOUT_S = 45 * 60
INSTALL_TIMEOUT_S = 20 * 60
READ_TIMEOUT_S = 10 * 60
# How much of a failing command's output to show.
LOG_TAIL_LINES = 15


@dataclass(frozen=True)
class Environment:
    name: str
    suite: str  # Debian release of the root
    extra: str  # the pip extra the README gives for it
    runtime: str  # the interpreter that extra must bring there, and the x86 reading it is compared with
    system_site: bool = False  # python3 -m venv --system-site-packages (Picamera2's route)

    @property
    def commands(self) -> str:
        venv = "python3 -m venv --system-site-packages" if self.system_site else "python3 -m venv"
        return f"{venv} ENV && ENV/bin/pip install '.[{self.extra}]'"


ENVIRONMENTS = (
    Environment("bookworm-edge", "bookworm", "edge", "tflite-runtime"),
    Environment("bookworm-litert", "bookworm", "litert", "ai-edge-litert"),
    Environment("bookworm-system", "bookworm", "edge", "tflite-runtime", system_site=True),
    Environment("trixie-edge", "trixie", "edge", "ai-edge-litert"),
    Environment("trixie-litert", "trixie", "litert", "ai-edge-litert"),
)
# The x86 reference for each interpreter: the extra installed there (with --tflite-python, a Python
# that tflite-runtime 2.14 has wheels for, or --litert-python).
REFERENCE_EXTRAS = {"tflite-runtime": "edge", "ai-edge-litert": "litert"}


@dataclass
class Outcome:
    env: Environment
    problems: list[str] = field(default_factory=list)
    versions: str = ""  # digits-recognize --version
    libraries: str = ""  # what probe.py found
    size_mb: float | None = None
    debian_mb: float | None = None
    install_s: tuple[float, float] | None = None  # (wall, CPU) seconds, emulated
    read_s: tuple[float, float] | None = None
    box_dev: int = 0
    confidence_dev: float = 0.0

    @property
    def exact(self) -> bool:
        return not self.problems


class CheckError(Exception):
    """A step that failed; the message says which and why."""


# --- the host ---------------------------------------------------------------------------------------

def preflight() -> str | None:
    """Why this machine cannot run the check, in one line, or None when it can."""
    if not sys.platform.startswith("linux"):
        return "not Linux"
    if os.geteuid() != 0:
        return "needs root (to make Debian roots and chroot into them)"
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("dpkg", "dpkg"), ("unshare", "util-linux"),
                          ("chroot", "coreutils"), ("git", "git")):
        if shutil.which(tool) is None:
            return f"{tool} not found (apt-get install {package})"
    binfmt = Path("/proc/sys/fs/binfmt_misc")
    if not (binfmt / "status").exists():
        mounted = subprocess.run(["mount", "-t", "binfmt_misc", "binfmt_misc", str(binfmt)], capture_output=True)
        if mounted.returncode != 0:
            return "binfmt_misc cannot be mounted here (a container without the privilege?)"
    entry = binfmt / "qemu-aarch64"
    if not entry.exists() and shutil.which("update-binfmts"):
        subprocess.run(["update-binfmts", "--enable", "qemu-aarch64"], capture_output=True)
    if not entry.exists():
        return "no qemu-aarch64 in binfmt_misc (apt-get install qemu-user-static binfmt-support)"
    text = entry.read_text()
    if not text.startswith("enabled"):
        return "qemu-aarch64 is registered in binfmt_misc but disabled"
    flags = re.search(r"^flags: *(\S*)", text, re.M)
    if not flags or "F" not in flags.group(1):
        return "qemu-aarch64 is registered without the F flag, so it cannot run inside a chroot"
    return None


def host_cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def run(command: list[str], log: Path | None = None, timeout: float | None = None,
        cwd: Path | None = None) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run a command at low priority; (result, wall seconds, CPU seconds of the command and its children).

    On timeout the command's whole process group is killed (the chroot's pip included) and the result
    has return code 124, as timeout(1) gives.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    process = subprocess.Popen(["nice", "-n", "10", *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
        code = process.returncode
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        stderr += f"\n(killed after {timeout:.0f} s)"
        code = 124
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if log is not None:
        log.write_text(f"$ {' '.join(command)}\n{stdout}\n{stderr}")
    return subprocess.CompletedProcess(command, code, stdout, stderr), wall, cpu


def tail(text: str, lines: int = LOG_TAIL_LINES) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


# --- Debian roots -----------------------------------------------------------------------------------

def ensure_root(suite: str, cache: Path, mirror: str, rebuild: bool) -> Path:
    """The cached arm64 root for a Debian release, made with mmdebstrap when missing, stale or altered."""
    root = cache / "roots" / suite
    stamp = cache / "roots" / f"{suite}.json"
    recipe = {"suite": suite, "packages": list(ROOT_PACKAGES[suite]), "mirror": mirror, "variant": "minbase"}
    reason = _stale_reason(root, stamp, recipe) if not rebuild else "rebuild asked for"
    if reason is None:
        return root
    print(f"pi-check: making the {suite} arm64 root ({reason}); a few minutes, emulated package scripts",
          flush=True)
    partial = root.with_name(f"{suite}.partial")
    remove_tree(partial)
    stamp.unlink(missing_ok=True)
    # mmdebstrap mounts /proc, /sys and /dev inside the root while it works; in a private mount
    # namespace those mounts vanish with it, even when it is killed half-way.
    command = ["unshare", "--mount", "--propagation", "private", "--",
               "mmdebstrap", "--mode=root", "--architectures=arm64", "--variant=minbase",
               "--include=" + ",".join(ROOT_PACKAGES[suite]), suite, str(partial), mirror]
    if EATMYDATA_HOOK.is_dir():  # dpkg skips its fsyncs: faster, and a root is disposable
        command.insert(command.index("mmdebstrap") + 1, f"--hook-dir={EATMYDATA_HOOK}")
    partial.parent.mkdir(parents=True, exist_ok=True)
    result, wall, cpu = run(command, log=cache / "roots" / f"{suite}.log", timeout=ROOT_TIMEOUT_S)
    if result.returncode != 0:
        remove_tree(partial)
        raise CheckError(f"mmdebstrap {suite} failed (log: {cache / 'roots' / f'{suite}.log'}):\n"
                         f"{tail(result.stderr)}")
    remove_tree(root)
    partial.rename(root)
    stamp.write_text(json.dumps({**recipe, "built": time.time()}, indent=1))
    print(f"pi-check: {suite} root made in {wall / 60:.1f} min ({cpu / 60:.1f} min CPU)", flush=True)
    return root


def remove_tree(path: Path) -> None:
    """Removes a half-made root, first unmounting what a run killed inside mmdebstrap left mounted.

    Earlier versions ran mmdebstrap in the host's mount namespace: a run killed there leaves /proc,
    /sys and /dev mounted inside the half-made root, which rmtree cannot remove, and mmdebstrap then
    refuses the directory because it is not empty."""
    inside = str(path.resolve()) + "/"
    mounts = [point for point in _mount_points() if point.startswith(inside)]
    for point in sorted(mounts, key=len, reverse=True):  # the deepest first
        subprocess.run(["umount", "--recursive", "--lazy", point], capture_output=True)
    left = [point for point in _mount_points() if point.startswith(inside)]
    if left:  # never delete through a mount: it may be the host's /dev
        raise CheckError(f"cannot remove {path}: still mounted there: {', '.join(left)}")
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        raise CheckError(f"cannot remove {path}; remove it by hand")


def _mount_points() -> list[str]:
    """This mount namespace's mount points (/proc/self/mountinfo, octal escapes decoded)."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4]) for line in lines]


def _stale_reason(root: Path, stamp: Path, recipe: dict) -> str | None:
    if not root.is_dir() or not stamp.exists():
        return "not cached"
    built = json.loads(stamp.read_text())
    if {k: built.get(k) for k in recipe} != recipe:
        return "its recipe changed"
    if time.time() - built.get("built", 0) > ROOT_MAX_AGE_DAYS * 86400:
        return f"older than {ROOT_MAX_AGE_DAYS} days"
    # pip only ever writes into virtual environments; a packaged file that changed means something
    # wrote into the root itself, so it is not reused. dpkg runs natively here (--root).
    verify = subprocess.run(["dpkg", f"--root={root}", "--verify"], capture_output=True, text=True)
    if verify.returncode != 0 or verify.stdout.strip():
        return "dpkg --verify found changed files"
    return None


def debian_size_mb(root: Path, packages: tuple[str, ...]) -> float | None:
    """Installed size of Debian packages in a root (the packages themselves, not what they pull in)."""
    query = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f=${Installed-Size}\n",
                            *packages], capture_output=True, text=True)
    if query.returncode != 0:
        return None
    return sum(int(kib) for kib in query.stdout.split()) / 1024


# --- the snapshot, the inputs and the x86 reference -------------------------------------------------

def snapshot(dest: Path) -> None:
    """Copy the files `pip install .` sees: tracked and new files that git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=CHECKOUT, capture_output=True, text=True, check=True)
    for name in filter(None, listed.stdout.split("\0")):
        source = CHECKOUT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)


def ensure_reference(runtime: str, python: str, cache: Path, src: Path, logs: Path) -> Path:
    """An x86 virtual environment with the snapshot installed with the extra that brings `runtime`.

    Kept in the cache between runs (dependencies install once); the snapshot is installed anew each
    time. Returns its bin/ folder.
    """
    venv = cache / f"x86-{runtime}"
    if not python:
        raise CheckError(f"no x86 Python given for the {runtime} reference")
    if not (venv / "bin" / "pip").exists():
        result, _, _ = run([python, "-m", "venv", str(venv)], log=logs / f"x86-{runtime}-venv.log")
        if result.returncode != 0:
            raise CheckError(f"could not make the x86 {runtime} environment with {python}:\n{tail(result.stderr)}")
    pip = str(venv / "bin" / "pip")
    extra = REFERENCE_EXTRAS[runtime]
    # Dependencies as the snapshot states them, then the snapshot itself over whatever was there.
    for step, command in (("deps", [pip, "install", "--quiet", f".[{extra}]"]),
                          ("snapshot", [pip, "install", "--quiet", "--force-reinstall", "--no-deps", "."])):
        result, _, _ = run(command, cwd=src, log=logs / f"x86-{runtime}-{step}.log", timeout=INSTALL_TIMEOUT_S)
        if result.returncode != 0:
            raise CheckError(f"x86 {runtime} install of .[{extra}] with {python} failed:\n{tail(result.stderr)}")
    return venv / "bin"


def read_records(path: Path) -> dict[str, dict]:
    """JSON Lines records by the input's file name."""
    records = {}
    for line in path.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            records[Path(record["source"]).name] = record
    return records


# --- one emulated environment -----------------------------------------------------------------------

def check_environment(env: Environment, root: Path, board: str, work: Path, pip_cache: Path,
                      inputs: list[str], reference: dict[str, dict]) -> Outcome:
    outcome = Outcome(env)
    inside = f"/opt/pi-check/envs/{env.name}"
    logs = work / "logs"

    def in_root(script: str, log: str, timeout: float):
        return run([str(IN_ROOT), str(root), board, str(work), str(pip_cache), "bash", "-c",
                    "set -euo pipefail; " + script], log=logs / log, timeout=timeout)

    venv = "python3 -m venv" + (" --system-site-packages" if env.system_site else "")
    # From a clean checkout copy, as a user would: no build/ or egg-info left by another environment.
    install = (f"cd /opt/pi-check/src && rm -rf build *.egg-info && {venv} {inside} && "
               f"{inside}/bin/pip install '.[{env.extra}]'")
    result, wall, cpu = in_root(install, f"{env.name}-install.log", INSTALL_TIMEOUT_S)
    outcome.install_s = (wall, cpu)
    if result.returncode != 0:
        outcome.problems.append(f"install failed ({env.commands}):\n{tail(result.stdout + result.stderr)}")
        return outcome
    outcome.size_mb = _tree_mb(work / "envs" / env.name)
    if env.system_site:
        outcome.debian_mb = debian_size_mb(root, DEBIAN_PYTHON)

    result, _, _ = in_root(f"{inside}/bin/digits-recognize --version && {inside}/bin/python {PROBE}",
                           f"{env.name}-version.log", READ_TIMEOUT_S)
    if result.returncode != 0:
        outcome.problems.append(f"digits-recognize --version failed:\n{tail(result.stdout + result.stderr)}")
        return outcome
    version, _, probed = result.stdout.strip().rpartition("\n")
    outcome.versions = version.strip()
    try:
        found = json.loads(probed)
    except json.JSONDecodeError:
        outcome.problems.append(f"probe.py printed {probed!r}, not JSON")
        return outcome
    runtimes = {name: v for name, v in found["runtimes"].items() if v}
    outcome.libraries = ", ".join(f"{name} {v}" for name, v in runtimes.items()) + "; " + ", ".join(
        f"{name} {v}" + (" (Debian)" if debian else "") for name, (v, debian) in found["libraries"].items())
    if set(runtimes) != {env.runtime}:
        outcome.problems.append(f"'.[{env.extra}]' installed {sorted(runtimes) or 'no interpreter'}, "
                                f"expected {env.runtime} alone")

    names = " ".join(f"'{name}'" for name in inputs)
    result, wall, cpu = in_root(f"cd /opt/pi-check/inputs && {inside}/bin/digits-recognize {names} --json "
                                f"> /opt/pi-check/out/{env.name}.jsonl", f"{env.name}-read.log", READ_TIMEOUT_S)
    outcome.read_s = (wall, cpu)
    if result.returncode != 0:
        outcome.problems.append(f"digits-recognize exited {result.returncode}:\n{tail(result.stderr)}")
    try:
        records = read_records(work / "out" / f"{env.name}.jsonl")
    except (OSError, json.JSONDecodeError, KeyError) as error:
        outcome.problems.append(f"unreadable output: {error}")
        return outcome
    compare(reference, records, outcome)
    return outcome


def _tree_mb(path: Path) -> float:
    """Disk used by a folder (allocated blocks, links not followed)."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return total / 1e6


def compare(reference: dict[str, dict], records: dict[str, dict], outcome: Outcome) -> None:
    """Add to outcome.problems every way records differ from the x86 reading beyond the tolerances."""
    problems = outcome.problems
    for name in sorted(set(reference) - set(records)):
        problems.append(f"{name}: no record")
    for name in sorted(set(records) & set(reference)):
        ref, got = reference[name], records[name]
        if "error" in got or "error" in ref:
            if got.get("error") != ref.get("error"):
                problems.append(f"{name}: error {got.get('error')!r}, on x86 {ref.get('error')!r}")
            continue
        for key in ("numbers", "text"):
            if got.get(key) != ref.get(key):
                problems.append(f"{name}: {key} {got.get(key)!r}, on x86 {ref.get(key)!r}")
        ref_digits, got_digits = ref.get("digits", []), got.get("digits", [])
        if [d["digit"] for d in got_digits] != [d["digit"] for d in ref_digits]:
            problems.append(f"{name}: digits {''.join(str(d['digit']) for d in got_digits)}, "
                            f"on x86 {''.join(str(d['digit']) for d in ref_digits)}")
            continue
        for index, (r, g) in enumerate(zip(ref_digits, got_digits)):
            box_dev = max(abs(a - b) for a, b in zip(r["box"], g["box"]))
            confidence_dev = abs(r["confidence"] - g["confidence"])
            outcome.box_dev = max(outcome.box_dev, box_dev)
            outcome.confidence_dev = max(outcome.confidence_dev, confidence_dev)
            if box_dev > BOX_TOLERANCE_PX:
                problems.append(f"{name}: digit {index} box {g['box']}, on x86 {r['box']}")
            if confidence_dev > CONFIDENCE_TOLERANCE:
                problems.append(f"{name}: digit {index} confidence {g['confidence']}, on x86 {r['confidence']}")


# --- the report -------------------------------------------------------------------------------------

def _duration(seconds: tuple[float, float] | None) -> str:
    if seconds is None:
        return "-"
    wall, cpu = seconds
    return f"{wall:.0f} s ({cpu:.0f} s CPU)"


def report(outcomes: list[Outcome], board: str, inputs: list[str]) -> None:
    print(f"\npi-check: {len(inputs)} inputs read in each environment and compared with the same interpreter on "
          f"x86; times are EMULATED (qemu-user, {board} CPU model, on {host_cpu()}, {os.cpu_count()} cores), "
          "not a Pi's")
    header = ("environment", "install", "size", "install time (emulated)", "read time (emulated)", "vs x86")
    rows = []
    for o in outcomes:
        size = "-" if o.size_mb is None else f"{o.size_mb:.0f} MB"
        if o.debian_mb is not None:
            size += f" + {o.debian_mb:.0f} MB Debian"
        verdict = "exact" if o.exact else f"{len(o.problems)} problem(s)"
        if o.read_s is not None and o.exact:
            verdict += f" (boxes +-{o.box_dev} px, confidence +-{o.confidence_dev:.4f})"
        rows.append((o.env.name, o.env.commands.replace("ENV/bin/", ""), size, _duration(o.install_s),
                     _duration(o.read_s), verdict))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  " + "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())
    for o in outcomes:
        if o.versions:  # folders inside the root say nothing: keep the file names
            print(f"  {o.env.name}: {o.libraries}; " + re.sub(r"(?<=\s)/\S*/", "", o.versions))
    for o in outcomes:
        for problem in o.problems:
            print(f"  {o.env.name}: {problem}")


# --- main -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--preflight", action="store_true",
                        help="only say (one line) whether this machine can run the check; exit 0 if it can")
    parser.add_argument("--tflite-python", default="python3.11",
                        help="x86 Python 3.9-3.11 for the tflite-runtime reference (default: python3.11)")
    parser.add_argument("--litert-python", default="python3",
                        help="x86 Python 3.10+ for the LiteRT reference (default: python3)")
    parser.add_argument("--mnist", default=os.environ.get("MNIST_DATA") or str(CHECKOUT.parent / "shared" / "mnist"),
                        help="MNIST folder for the generated pages (default: $MNIST_DATA or ../shared/mnist)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"roots and downloads (default {DEFAULT_CACHE})")
    parser.add_argument("--only", action="append", choices=[e.name for e in ENVIRONMENTS], metavar="ENV",
                        help="check only this environment (repeatable): " + ", ".join(e.name for e in ENVIRONMENTS))
    parser.add_argument("--board", choices=("pi4", "pi5"), default="pi4",
                        help="CPU model and /proc/cpuinfo to emulate (default pi4: Cortex-A72)")
    parser.add_argument("--mirror", default=DEFAULT_MIRROR, help=f"Debian mirror (default {DEFAULT_MIRROR})")
    parser.add_argument("--rebuild-roots", action="store_true", help="make the Debian roots again")
    args = parser.parse_args(argv)

    reason = preflight()
    if args.preflight:
        print(reason or "this machine can run the Raspberry Pi check")
        return 0 if reason is None else 1
    if reason is not None:
        print(f"pi-check: cannot run here: {reason}", file=sys.stderr)
        return 2

    selected = [e for e in ENVIRONMENTS if not args.only or e.name in args.only]
    started = time.monotonic()
    args.cache.mkdir(parents=True, exist_ok=True)
    lock = open(args.cache / "lock", "w")  # held until exit: two checks would share one work folder
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"pi-check: another check is running with {args.cache}", file=sys.stderr)
        return 2
    work = args.cache / "work"
    shutil.rmtree(work, ignore_errors=True)
    for folder in ("src", "inputs", "envs", "out", "logs"):
        (work / folder).mkdir(parents=True)
    pip_cache = args.cache / "pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    host_ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if host_ca.is_file():  # the host's trusted certificates, in case PyPI is reached through a TLS proxy
        shutil.copy(host_ca, work / "host-ca.crt")

    runtimes = sorted({env.runtime for env in selected})
    pythons = {"tflite-runtime": args.tflite_python, "ai-edge-litert": args.litert_python}
    references: dict[str, dict[str, dict]] = {}
    try:
        snapshot(work / "src")
        bin_dirs = {rt: ensure_reference(rt, pythons[rt], args.cache, work / "src", work / "logs") for rt in runtimes}
        # The inputs: the bundled examples as they are, and generated pages and frames written once.
        examples = CHECKOUT / "edge" / "examples"
        for image in sorted(examples.glob("*")):
            if image.suffix.lower() in (".jpg", ".jpeg", ".png"):
                shutil.copy2(image, work / "inputs" / image.name)
        result, _, _ = run([str(bin_dirs[runtimes[0]] / "python"), str(MAKE_INPUTS), "--mnist", args.mnist,
                            "--out", str(work / "inputs")], log=work / "logs" / "inputs.log", timeout=READ_TIMEOUT_S)
        if result.returncode != 0:
            raise CheckError(f"generating the pages failed:\n{tail(result.stderr)}")
        inputs = sorted(p.name for p in (work / "inputs").iterdir())
        for runtime, bin_dir in bin_dirs.items():
            out = work / "out" / f"x86-{runtime}.jsonl"
            result, _, _ = run([str(bin_dir / "digits-recognize"), *inputs, "--json"], cwd=work / "inputs",
                               log=work / "logs" / f"x86-{runtime}-read.log", timeout=READ_TIMEOUT_S)
            if result.returncode != 0:
                raise CheckError(f"the x86 {runtime} run failed:\n{tail(result.stderr)}")
            out.write_text(result.stdout)
            references[runtime] = read_records(out)
            if sorted(references[runtime]) != inputs:
                raise CheckError(f"the x86 {runtime} run gave records for {sorted(references[runtime])}, not {inputs}")
    except CheckError as error:
        print(f"pi-check: {error}", file=sys.stderr)
        return 1

    outcomes = []
    roots: dict[str, Path | CheckError] = {}
    for env in selected:
        if env.suite not in roots:
            try:
                roots[env.suite] = ensure_root(env.suite, args.cache, args.mirror, args.rebuild_roots)
            except CheckError as error:
                roots[env.suite] = error
        root = roots[env.suite]
        if isinstance(root, CheckError):
            outcomes.append(Outcome(env, problems=[str(root)]))
            continue
        print(f"pi-check: {env.name}: {env.commands} (emulated) ...", flush=True)
        outcomes.append(check_environment(env, root, args.board, work, pip_cache, inputs, references[env.runtime]))

    report(outcomes, args.board, inputs)
    if len(references) == 2:  # how far the two interpreters are apart on x86 itself, for scale
        between = Outcome(ENVIRONMENTS[0])
        compare(references["ai-edge-litert"], references["tflite-runtime"], between)
        print(f"  x86 tflite-runtime against x86 LiteRT, for scale: {len(between.problems)} difference(s) beyond "
              f"the tolerances; boxes +-{between.box_dev} px, confidence +-{between.confidence_dev:.4f}")
    exact = sum(o.exact for o in outcomes)
    print(f"  whole check: {(time.monotonic() - started) / 60:.1f} min; logs and records in {work}")
    print(f"pi-check: {exact} of {len(outcomes)} environments read the examples exactly")
    return 0 if exact == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
