"""Builds the fixture documentation sites with the real generators, offline, and only when needed.

::

    roots = build_sites(Path("/tmp/docsites"))
    roots["sphinx"] / "install.html"          # Sphinx, alabaster theme
    roots["mkdocs"] / "install" / "index.html"  # MkDocs, Material theme
    roots["handwritten"] / "rustdoc.html"     # the hand-written imitations, copied

Each site is rebuilt only when its sources (or this module, or a generator's version) changed
since its last build: a stamp beside the output records what it was built from. Builds run in
subprocesses of the same interpreter, in parallel, with warnings as errors (``-W``,
``--strict``), so a mistake in a source fails loudly instead of silently changing the page.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

__all__ = [
    "SITE_NAMES",
    "SOURCES",
    "BuildError",
    "build_sites",
    "default_cache_dir",
    "locked",
    "sources_digest",
]

SOURCES = Path(__file__).resolve().parent
SITE_NAMES = ("sphinx", "mkdocs", "handwritten")

# Their versions are part of each build's identity: a new Material changes every page.
_GENERATORS = (
    "sphinx",
    "docutils",
    "alabaster",
    "pygments",
    "mkdocs",
    "mkdocs-material",
    "pymdown-extensions",
    "markdown",
)
_TIMEOUT = 120.0


class BuildError(RuntimeError):
    """A generator failed; the message carries its command and output."""


def _source_files(name: str) -> list[Path]:
    root = SOURCES / name
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and not path.name.startswith(".")
    )


def _versions() -> str:
    found = []
    for dist in _GENERATORS:
        try:
            found.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            found.append(f"{dist} missing")
    return f"python {sys.version_info[:3]}; " + ", ".join(found)


def sources_digest(*names: str) -> str:
    """A hash of the named sites' sources (all by default), this module and the generators."""
    digest = hashlib.sha256(_versions().encode())
    digest.update(Path(__file__).read_bytes())
    for name in names or SITE_NAMES:
        for path in _source_files(name):
            digest.update(path.relative_to(SOURCES).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def default_cache_dir() -> Path:
    """A directory under the system's temp dir, one per user and per state of the sources.

    Keyed by the sources so that two checkouts (or an edit in the middle of a test session)
    never rebuild a site that another process is serving.
    """
    return Path(tempfile.gettempdir()) / f"shoal-docsites-{os.getuid()}-{sources_digest()[:16]}"


def build_sites(cache_dir: Path) -> dict[str, Path]:
    """Builds whatever is out of date under ``cache_dir``; returns each site's HTML root."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    roots = {name: cache_dir / name for name in SITE_NAMES}
    with locked(cache_dir / ".lock"):
        stale = [name for name in SITE_NAMES if not _fresh(cache_dir, name)]
        if stale:
            _build(cache_dir, stale)
    return roots


def _fresh(cache_dir: Path, name: str) -> bool:
    """Its output exists, its stamp is newer than every source, and records these sources."""
    stamp = cache_dir / f"{name}.stamp"
    if not (stamp.is_file() and (cache_dir / name).is_dir()):
        return False
    newest = max((p.stat().st_mtime for p in _source_files(name)), default=0.0)
    if stamp.stat().st_mtime < newest:
        return False
    return stamp.read_text() == sources_digest(name)


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold ``path``'s lock: two sessions sharing a cache (pytest in two terminals, two bench
    runs) build it once, in turn."""
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _commands(name: str, out: Path, scratch: Path) -> list[str] | None:
    python = sys.executable
    if name == "sphinx":
        doctrees = scratch / "doctrees"
        src = SOURCES / "sphinx"
        return [
            python,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-W",
            "-E",
            "-d",
            str(doctrees),
            str(src),
            str(out),
        ]
    if name == "mkdocs":
        config = SOURCES / "mkdocs" / "mkdocs.yml"
        return [
            python,
            "-m",
            "mkdocs",
            "build",
            "-q",
            "--strict",
            "-f",
            str(config),
            "-d",
            str(out),
        ]
    return None  # copied, not built


def _build(cache_dir: Path, names: list[str]) -> None:
    env = {
        **os.environ,
        # Material prints a banner about its end of life on every build without this.
        "NO_MKDOCS_2_WARNING": "1",
        # Nothing may be written into the sources.
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    scratch = Path(tempfile.mkdtemp(prefix=".build-", dir=cache_dir))
    try:
        outputs = {name: scratch / name for name in names}
        running: dict[str, tuple[list[str], subprocess.Popen[bytes]]] = {}
        try:
            for name in names:
                argv = _commands(name, outputs[name], scratch)
                if argv is None:
                    shutil.copytree(SOURCES / name, outputs[name])
                    continue
                proc = subprocess.Popen(
                    argv,
                    cwd=SOURCES / name,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                )
                running[name] = (argv, proc)
            for name, (argv, proc) in running.items():
                output, _ = proc.communicate(timeout=_TIMEOUT)
                if proc.returncode != 0:
                    raise BuildError(
                        f"{name} build failed ({proc.returncode}): {' '.join(argv)}\n"
                        + output.decode(errors="replace")
                    )
        finally:
            for _, proc in running.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for name in names:
            target = cache_dir / name
            (cache_dir / f"{name}.stamp").unlink(missing_ok=True)
            if target.exists():
                shutil.rmtree(target)
            outputs[name].rename(target)
            # Written last: a build interrupted before this point is redone next time.
            (cache_dir / f"{name}.stamp").write_text(sources_digest(name))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
