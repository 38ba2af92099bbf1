"""Sharing runs: ``export`` writes a self-contained zip, ``import_bundle`` merges one in.

A bundle holds ``manifest.json`` (every file with its SHA-256), ``runs/<run id>.json`` (the
records, with their ancestors so lineage survives) and ``images/ab/<sha256>.<ext>`` (outputs and
reference inputs). Import checks every hash before it writes anything, writes through the
store's own API (member names never become paths), and never overwrites a record that differs
from the one in the bundle: that run is reported as a conflict and the store's copy kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._version import __version__
from ..errors import ValidationError
from ..session.result import Result
from ..store import Store, StoreWarning
from ..store.runs import UNSETTLED
from .find import as_store

FORMAT = "nb2-bundle"
VERSION = 1
MAX_FILE = 256 * 1024 * 1024  # a 4K PNG is tens of MB; this stops a zip bomb, not a photo
_IMAGE = re.compile(r"images/[0-9a-f]{2}/([0-9a-f]{64})\.(png|jpg|jpeg|webp)")
_RUN = re.compile(r"runs/([A-Za-z0-9][A-Za-z0-9._-]{0,127})\.json")


def export(
    runs: Iterable[Any],
    path: str | os.PathLike[str],
    *,
    store: Store | str | os.PathLike[str] | None = None,
    lineage: bool = True,
) -> Path:
    """Write ``runs`` (Results, a ``find`` list, a History, or run ids with ``store``) and
    their images to the zip at ``path``; with ``lineage`` their ancestors too."""
    records: dict[str, dict[str, Any]] = {}
    stores: dict[str, Store] = {}
    for item in runs:
        record, src = _record_of(item, store)
        todo = [record]
        while todo:
            rec = todo.pop()
            if rec["run_id"] in records:
                continue
            if rec.get("status") in UNSETTLED:
                warnings.warn(f"nb2 export: run {rec['run_id']} is not settled; left out",
                              StoreWarning, stacklevel=2)  # fmt: skip
                continue
            records[rec["run_id"]], stores[rec["run_id"]] = rec, src
            parent = rec.get("parent") if lineage else None
            up = src.get(parent) if isinstance(parent, str) else None
            if up is not None:
                todo.append(up)
    files: dict[str, str] = {}
    out = Path(path)
    tmp = out.with_name(f".{out.name}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_STORED) as zf:
        for run_id, rec in sorted(records.items()):
            data = json.dumps(rec, indent=1, sort_keys=True, default=str).encode()
            _add(zf, files, f"runs/{run_id}.json", data)
            for sha in _images_of(rec):
                image = stores[run_id].image_path(sha)
                if image is None:
                    raise ValidationError(
                        f"export: image {sha[:12]} of run {run_id} is missing from the store",
                        field="runs", value=run_id, allowed="runs whose images are stored",
                    )  # fmt: skip
                name = f"images/{sha[:2]}/{sha}{image.suffix}"
                if name not in files:
                    _add(zf, files, name, image.read_bytes())
        manifest = {
            "format": FORMAT, "version": VERSION, "nb2_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "runs": sorted(records), "files": files,
        }  # fmt: skip
        zf.writestr("manifest.json", json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, out)
    return out


@dataclass
class Imported:
    """What ``import_bundle`` did: runs added, runs already there, runs that differ."""

    added: list[Result] = field(default_factory=list)
    same: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)  # kept the store's copy

    def __repr__(self) -> str:
        bits = [f"{len(self.added)} added", f"{len(self.same)} already there"]
        if self.conflicts:
            bits.append(f"{len(self.conflicts)} differ (the store's copy kept)")
        return f"<nb2 bundle import: {', '.join(bits)}>"


def import_bundle(
    path: str | os.PathLike[str], store: Store | str | os.PathLike[str] | None = None
) -> Imported:
    """Merge the bundle at ``path`` into ``store``, checking every hash first."""
    store = as_store(store)
    with zipfile.ZipFile(path) as zf:
        try:
            manifest = json.loads(zf.read("manifest.json"))
        except (KeyError, ValueError):
            raise _bad(path, "it has no readable manifest.json") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _bad(path, "its manifest is not an nb2 bundle's")
        if int(manifest.get("version") or 0) > VERSION:
            raise _bad(path, f"it is format {manifest.get('version')}; this nb2 reads {VERSION}")
        files = manifest.get("files")
        if not isinstance(files, dict):
            raise _bad(path, "its manifest lists no files")
        images: dict[str, bytes] = {}
        records: dict[str, dict[str, Any]] = {}
        for name, sha in files.items():
            if not (_IMAGE.fullmatch(name) or _RUN.fullmatch(name)):
                raise _bad(path, f"it names an unexpected file {name!r}")
            try:
                if zf.getinfo(name).file_size > MAX_FILE:
                    raise _bad(path, f"{name} is larger than any image nb2 stores")
                data = zf.read(name)
            except KeyError:
                raise _bad(path, f"{name} is listed but missing") from None
            if hashlib.sha256(data).hexdigest() != sha:
                raise _bad(path, f"{name} does not match its hash in the manifest")
            image = _IMAGE.fullmatch(name)
            if image and image[1] != sha:
                raise _bad(path, f"{name} is not the image its name says")
            run = _RUN.fullmatch(name)
            if run:
                try:
                    record = json.loads(data)
                except ValueError:
                    record = None
                if not isinstance(record, dict) or record.get("run_id") != run[1]:
                    raise _bad(path, f"{name} is not the record of run {run[1]}")
                records[run[1]] = record
            else:
                images[name] = data
    carried = {m[1] for name in images if (m := _IMAGE.fullmatch(name))}
    for run_id, record in records.items():  # a record never points at an image nobody has
        for sha in _images_of(record):
            if sha not in carried and store.image_path(sha) is None:
                raise _bad(path, f"run {run_id} needs image {sha[:12]}, which it does not carry")
    report = Imported()
    for name, data in images.items():  # images first: a record never points at nothing
        store.put_image(data, name.rsplit(".", 1)[1])
    for run_id, record in sorted(records.items()):
        if record.get("status") in UNSETTLED:
            continue  # never journal someone else's prediction for our recover() to chase
        mine = store.get(run_id)
        if mine is None:
            store.save(record)
            report.added.append(Result(record, store))
        elif mine == record:
            report.same.append(run_id)
        else:
            report.conflicts.append(run_id)
    if report.conflicts:
        warnings.warn(
            f"nb2 import: {len(report.conflicts)} run(s) in {path} differ from the store's "
            f"records of the same id; the store's were kept (first: {report.conflicts[0]})",
            StoreWarning,
            stacklevel=2,
        )
    return report


def _record_of(item: Any, store: Store | str | os.PathLike[str] | None) -> tuple[dict, Store]:
    if isinstance(item, Result):
        return item.record, item.store
    if isinstance(item, str):
        src = as_store(store)
        record = src.get(item)
        if record is not None:
            return record, src
    raise ValidationError(
        f"export: {item!r} is not a run; pass Results (nb2.find, a History) or run ids "
        "with store=",
        field="runs", value=repr(item)[:80], allowed="Result | run id",
    )  # fmt: skip


def _images_of(record: dict[str, Any]) -> list[str]:
    out = record.get("output") or {}
    refs = (record.get("params") or {}).get("references") or []
    shas = [out.get("sha256")] + [r.get("sha256") for r in refs if isinstance(r, dict)]
    return [s for s in shas if isinstance(s, str) and re.fullmatch(r"[0-9a-f]{64}", s)]


def _add(zf: zipfile.ZipFile, files: dict[str, str], name: str, data: bytes) -> None:
    zf.writestr(name, data)
    files[name] = hashlib.sha256(data).hexdigest()


def _bad(path: Any, why: str) -> ValidationError:
    return ValidationError(
        f"import_bundle: {os.fspath(path)} cannot be imported: {why}; nothing was written",
        field="bundle", value=os.fspath(path), allowed="a bundle written by nb2.export",
    )  # fmt: skip
