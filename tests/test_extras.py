"""The `edge` and `litert` extras resolve to wheels alone on every Python a Raspberry Pi OS ships.

A Pi has no compiler for numpy or OpenCV: if an extra pulls a version without a wheel for the Pi's
Python (numpy 1.26 on Python 3.13, Raspberry Pi OS Trixie), pip tries to build it from source and
fails (`meson.build: ERROR: Unknown compiler(s)`). Each case asks PyPI what `pip install .[extra]`
would install on a given Python, machine and glibc, from wheels only (`--only-binary=:all:`).

pip evaluates the environment markers of requirements (`; python_version < "3.12"`) with the
interpreter it runs under, even when `--python-version` names another, so each case runs the target
Python's own pip (found as the Makefile finds it); `--platform` makes it choose wheels for the
target machine and glibc. Nothing is installed (`--dry-run`).
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow

PYPI_SIMPLE = "https://pypi.org/simple/"
# Seconds for one resolution: pip may download the wheels it picks (about 60 MB) to read them.
RESOLVE_TIMEOUT_S = 300
# What the project needs for its metadata to be built (the package folders are listed in setup.cfg).
PROJECT_FILES = ("setup.cfg", "pyproject.toml", "README.md", "edge", "trainer", "models")

# (Python, glibc, machine, extra, the interpreter it must bring). The Python/glibc pairs are those of
# Raspberry Pi OS Bookworm (Debian 12), Ubuntu 24.04 (the markers' boundary) and Trixie (Debian 13).
CASES = [
    ("3.11", (2, 36), "aarch64", "edge", "tflite-runtime"),
    ("3.11", (2, 36), "x86_64", "edge", "tflite-runtime"),
    ("3.12", (2, 39), "aarch64", "edge", "ai-edge-litert"),
    ("3.13", (2, 41), "aarch64", "edge", "ai-edge-litert"),
    ("3.13", (2, 41), "x86_64", "edge", "ai-edge-litert"),
    ("3.13", (2, 41), "aarch64", "litert", "ai-edge-litert"),
]
RUNTIMES = {"tflite-runtime", "ai-edge-litert"}


def manylinux_platforms(glibc: tuple[int, int], machine: str) -> list[str]:
    """The platform tags pip accepts on that glibc and machine, newest first (PEP 600 and legacy)."""
    major, minor = glibc
    oldest = 5 if machine == "x86_64" else 17  # manylinux1 is x86 only; Arm starts at 2014 (2.17)
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, oldest - 1, -1)]
    legacy = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
    tags += [f"{name}_{machine}" for name, m in legacy.items() if oldest <= m <= minor]
    return tags + [f"linux_{machine}"]


def _pip_env() -> dict[str, str]:
    """pip talking to PyPI only: no local wheel folders, extra indexes or constraints from this machine.

    PIP_INDEX_URL (a PyPI mirror) and PIP_CERT (a proxy's certificate) are kept: they are how this
    machine reaches PyPI at all.
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PIP_") or k in ("PIP_INDEX_URL", "PIP_CERT", "PIP_DEFAULT_TIMEOUT")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@pytest.fixture(scope="module")
def pypi() -> None:
    index = os.environ.get("PIP_INDEX_URL", PYPI_SIMPLE).rstrip("/") + "/"
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT"))
    try:
        urllib.request.urlopen(index + "tflite-runtime/", timeout=20, context=context).close()
    except (urllib.error.URLError, OSError) as error:
        pytest.skip(f"PyPI unreachable ({index}: {error}): cannot check what the extras resolve to")


@pytest.fixture(scope="module")
def project_wheel(pypi, tmp_path_factory) -> Path:
    """The checkout built once into a wheel (from a copy, so that the build writes nothing into it).

    Each case then resolves `wheel[extra]`: the same requirements and markers as `.[extra]`, without
    building the metadata again under every Python.
    """
    copy = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, copy / name)
    out = tmp_path_factory.mktemp("wheel")
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(copy)]
    built = subprocess.run(command, capture_output=True, text=True, env=_pip_env(), timeout=RESOLVE_TIMEOUT_S)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = out.glob("edge_digits-*.whl")
    return wheel


def _python(version: str) -> str:
    found = subprocess.run([str(ROOT / ".ci" / "find-python"), version], capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        pytest.skip(f"no Python {version} on this machine (pyenv or python{version}) to run its own pip")
    python = found.stdout.strip()
    pip = subprocess.run([python, "-m", "pip", "--version"], capture_output=True, text=True)
    if pip.returncode != 0:
        pytest.skip(f"Python {version} at {python} has no pip")
    pip_version = tuple(int(part) for part in pip.stdout.split()[1].split(".")[:2])
    if pip_version < (22, 2):
        pytest.skip(f"pip {pip.stdout.split()[1]} of Python {version} has no --report (needs 22.2)")
    return python


def resolve(python: str, wheel: Path, extra: str, glibc: tuple[int, int], machine: str,
            tmp_path: Path) -> dict[str, tuple[str, str]]:
    """What pip would install: {normalised name: (version, file name)}; fails the test if it cannot."""
    report = tmp_path / "report.json"
    platforms = [arg for tag in manylinux_platforms(glibc, machine) for arg in ("--platform", tag)]
    command = [python, "-m", "pip", "install", "--dry-run", "--quiet", "--only-binary=:all:",
               "--target", str(tmp_path / "target"), *platforms, "--report", str(report),
               f"{wheel}[{extra}]"]
    result = subprocess.run(command, capture_output=True, text=True, env=_pip_env(), cwd=tmp_path,
                            timeout=RESOLVE_TIMEOUT_S)
    assert result.returncode == 0, f"`.[{extra}]` does not resolve to wheels:\n{result.stderr[-3000:]}"
    installs = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower().replace("_", "-").replace(".", "-"):
            (item["metadata"]["version"], item["download_info"]["url"].rsplit("/", 1)[-1])
            for item in installs}


def _major_minor(version: str) -> tuple[int, int]:
    return tuple(int(part) for part in version.split(".")[:2])


@pytest.mark.parametrize("python_version, glibc, machine, extra, runtime", CASES,
                         ids=[f"{c[3]}-py{c[0]}-{c[2]}" for c in CASES])
def test_extra_resolves_to_wheels(project_wheel, tmp_path, python_version, glibc, machine, extra, runtime):
    python = _python(python_version)
    packages = resolve(python, project_wheel, extra, glibc, machine, tmp_path)

    assert runtime in packages, sorted(packages)
    assert not (RUNTIMES - {runtime}) & set(packages), "both interpreters would be installed"
    assert not {"tensorflow", "tensorflow-cpu"} & set(packages), "the edge side must not pull TensorFlow"
    assert {"numpy", "opencv-python-headless", "pillow"} <= set(packages)
    if runtime == "tflite-runtime":
        # tflite-runtime 2.14 crashes under NumPy 2, and OpenCV after 4.11 needs NumPy 2.
        assert packages["tflite-runtime"][0] == "2.14.0"
        assert _major_minor(packages["numpy"][0]) < (2, 0)
        assert _major_minor(packages["opencv-python-headless"][0]) < (4, 12)

    # Every dependency comes as a wheel built for this machine or for any (pure Python).
    for name, (version, filename) in packages.items():
        if name == "edge-digits":
            continue
        assert filename.endswith(".whl"), (name, filename)
        platform_tag = filename[: -len(".whl")].split("-")[-1]
        assert platform_tag == "any" or machine in platform_tag, (name, filename)

