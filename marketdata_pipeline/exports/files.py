"""The exports' files: atomic replacement, SHA-256 digests and the manifest that lists them."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportSummary:
    """What one export left in its directory (the asset's metadata and the command's output)."""

    directory: Path
    rows: int
    days: int
    bytes: int
    last_day: str | None
    files_written: int
    data_version: int


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `path`; on success it replaces `path` in one rename.

    Readers see the old file or the new one, never a half-written one; on error the
    temporary file is removed and `path` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_file(path: Path, data: bytes) -> dict:
    """Replace `path` with `data` atomically; its manifest entry: its size and SHA-256 (hex)."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def file_entry(path: Path) -> dict:
    """The manifest entry of a file written in place (DuckDB's COPY, an append), read back in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def read_manifest(directory: Path) -> dict | None:
    """The export's manifest, or None when the directory holds no export yet."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path} is not valid JSON ({error}): delete the export directory and export again"
        ) from None


def previous_export(directory: Path, export_format: str) -> dict | None:
    """The manifest of the `export_format` export already in `directory`, None when it holds none;
    refuses a directory that holds another export, so one never overwrites the other."""
    previous = read_manifest(directory)
    if previous is not None and previous.get("format") != export_format:
        raise ValueError(
            f"{directory} holds another export ({previous.get('format')}): choose an empty directory"
        )
    return previous


def write_manifest(directory: Path, manifest: dict) -> None:
    """Write the manifest last: it is the export's commit point."""
    write_file(Path(directory) / MANIFEST, (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def summary(directory: Path, manifest: dict, files_written: int) -> ExportSummary:
    files = manifest["files"].values()
    return ExportSummary(
        directory=Path(directory),
        rows=manifest["rows"],
        days=manifest["days"],
        bytes=sum(entry["bytes"] for entry in files),
        last_day=manifest["last_day"],
        files_written=files_written,
        data_version=manifest["data_version"],
    )
