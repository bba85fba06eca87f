"""Artifacts on disk: atomic writes, manifests with checksums, and pickle-free numpy tables.

Every artifact directory has a `manifest.json`, written last, that records what built it and
the size and BLAKE2b digest of each file. Loading checks the manifest before any library
reads a byte, so a truncated or swapped file is reported clearly instead of crashing inside
FAISS or numpy.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import ArtifactError

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
_CHUNK = 1 << 22


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp)` then rename tmp onto `path`, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_dir(path: Path, fill: Callable[[Path], None]) -> list[Path]:
    """Call `fill(tmp)` to create the folder `tmp` beside `path`, then swap it in for `path`,
    for libraries that write a folder (ScaNN, Milvus Lite); returns its files. Readers see the
    old folder or the new one, never half of one (between the two renames, none)."""
    tag = f"{os.getpid()}-{threading.get_ident()}"
    tmp, old = path.with_name(f".{path.name}.tmp-{tag}"), path.with_name(f".{path.name}.old-{tag}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        fill(tmp)
        if path.exists():
            path.rename(old)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return sorted(p for p in path.rglob("*") if p.is_file())


def file_digest(path: Path) -> dict[str, Any]:
    """Size and BLAKE2b digest: cheap enough to check on every load."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return {"bytes": path.stat().st_size, "blake2b": digest.hexdigest()}


def library_versions() -> dict[str, str]:
    """Versions of the libraries that may have built an artifact (absent ones are left out)."""
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for dist in ("twostage", "numpy", "faiss-cpu", "hnswlib", "scann", "usearch", "catboost"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def write_manifest(
    directory: Path, kind: str, files: list[str], *, fingerprint: bool = False, **meta: Any
) -> dict[str, Any]:
    """Record `files` (already written in `directory`) and `meta`; the manifest goes last.

    With `fingerprint`, a short digest of all the files is stored too: indexes and models
    record it so that loading them against other data is refused.
    """
    manifest: dict[str, Any] = {
        "kind": kind,
        "format_version": FORMAT_VERSION,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "built_with": library_versions(),
        "files": {name: file_digest(directory / name) for name in files},
        **meta,
    }
    if fingerprint:
        files_json = json.dumps(manifest["files"], sort_keys=True).encode()
        manifest["fingerprint"] = hashlib.blake2b(files_json, digest_size=8).hexdigest()
    text = json.dumps(manifest, indent=2, sort_keys=True)
    atomic_write(directory / MANIFEST, lambda tmp: tmp.write_text(text))
    return manifest


def read_manifest(directory: Path, kind: str, *, verify: bool = True) -> dict[str, Any]:
    """Load and check a manifest: right kind and version, every file present and intact."""
    path = directory / MANIFEST
    if not path.is_file():
        raise ArtifactError(
            f"no {kind} found in {directory} ({MANIFEST} is missing); run `twostage build` "
            "for this --data-dir first"
        )
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}); rebuild with `twostage build`") from None
    if not isinstance(manifest, dict) or manifest.get("kind") != kind:
        found = manifest.get("kind") if isinstance(manifest, dict) else None
        raise ArtifactError(f"{path} describes a {found!r}, expected a {kind!r}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(
            f"{path} has format version {manifest.get('format_version')}, this twostage reads "
            f"version {FORMAT_VERSION}; rebuild with `twostage build --force`"
        )
    if verify:
        for name, expected in manifest.get("files", {}).items():
            verify_file(directory / name, expected)
    return manifest


def verify_file(path: Path, expected: Mapping[str, Any]) -> None:
    """Compare a file against its manifest entry, naming what differs."""
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; rebuild with `twostage build --force`")
    size = path.stat().st_size
    if size != expected["bytes"]:
        raise ArtifactError(
            f"{path} has {size} bytes but its manifest says {expected['bytes']} (truncated or "
            "replaced); rebuild with `twostage build --force`"
        )
    if file_digest(path)["blake2b"] != expected["blake2b"]:
        raise ArtifactError(
            f"{path} does not match the checksum in its manifest (corrupt or replaced); "
            "rebuild with `twostage build --force`"
        )


def save_array(path: Path, array: np.ndarray) -> None:
    """One `.npy` file, written atomically; used for large arrays that are memory-mapped."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(array), allow_pickle=False)

    atomic_write(path, write)


def load_array(path: Path, *, dtype: str, ndim: int, mmap: bool = True) -> np.ndarray:
    """Load a `.npy` file without pickles, checking dtype and rank."""
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing; rebuild with `twostage build --force`") from None
    except (ValueError, OSError) as exc:
        raise ArtifactError(f"{path} cannot be read as a numpy array ({exc}); rebuild it") from None
    _check_column(path, path.stem, array, dtype, ndim)
    array.flags.writeable = False  # read into memory or mapped, what was loaded is not edited
    # A plain ndarray view of the mapped file: np.memmap's Python-level __getitem__ would
    # make every fancy-indexed gather in the request path several times slower.
    return np.asarray(array)


def save_table(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """Columns of one table in one uncompressed `.npz`, written atomically."""

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{k: np.ascontiguousarray(v) for k, v in columns.items()})

    atomic_write(path, write)


def load_table(path: Path, schema: Mapping[str, tuple[str, int]]) -> dict[str, np.ndarray]:
    """Load the columns named in `schema` (name -> (dtype, ndim)) from an `.npz`."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [name for name in schema if name not in archive.files]
            if missing:
                raise ArtifactError(
                    f"{path} lacks column(s) {', '.join(missing)}; it was written by another "
                    "version or for another data set; rebuild with `twostage build --force`"
                )
            columns = {name: archive[name] for name in schema}
    except FileNotFoundError:
        raise ArtifactError(f"{path} is missing; rebuild with `twostage build --force`") from None
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ArtifactError(f"{path} cannot be read ({exc}); rebuild with `twostage build --force`") from None
    for name, (dtype, ndim) in schema.items():
        _check_column(path, name, columns[name], dtype, ndim)
    return columns


def _check_column(path: Path, name: str, array: np.ndarray, dtype: str, ndim: int) -> None:
    if array.dtype != np.dtype(dtype) or array.ndim != ndim:
        raise ArtifactError(
            f"{path}: column '{name}' is {array.dtype} with {array.ndim} dimension(s), expected "
            f"{np.dtype(dtype)} with {ndim}; rebuild with `twostage build --force`"
        )
