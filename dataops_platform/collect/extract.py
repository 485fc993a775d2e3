"""Extraction from databases and HTTP APIs: each extraction is a delivery like a landed file.

An extraction pulls the rows beyond the source's cursor (or every row, ``mode: full``) and
stores them as one immutable file in the dataset's landing folder,
``<landing>/<dataset>/extract-<seq>.<parquet|ndjson>``, with a manifest beside it
(``.extract-<seq>.<ext>.manifest.json``: the query or URL, the cursor range, the row count).
From there it is an ordinary delivery: the landing decision registers it as a partition,
``raw`` preserves it (and its manifest) in the lake, and it flows raw -> cleaned -> current
with the row ledger, checks and quarantine.

Exactly once, in this order:

1. the rows are written to a hidden temporary file, fsynced;
2. the manifest is written (hidden), then the file is renamed to its final name: the
   delivery is stored;
3. only then the cursor (a state file in the home, ``extract_state/<dataset>.json``)
   advances, atomically.

A process killed before 2 leaves only a temporary file: the next extraction removes it and
extracts the same range again. Killed between 2 and 3, the next extraction finds the stored
delivery numbered ``seq + 1`` and adopts its cursor instead of extracting again, so nothing
is lost or doubled. A source that is down fails the extraction with a clear message and
leaves the cursor where it was.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from dataops_platform.collect.landing import landing_base
from dataops_platform.contracts.model import Contract, SourceKind

FAULT_ENV = "DATAOPS_FAULT"  # tests: 'extract-after-write' / 'extract-after-store' kill here
STATE_DIR = "extract_state"
PREFIX = "extract-"


class ExtractError(Exception):
    """The source could not be read; nothing was stored and the cursor did not move."""


def _fault(point: str) -> None:
    if os.environ.get(FAULT_ENV) == point:
        os._exit(75)  # as abrupt as a kill: no cleanup, no finally blocks


@dataclass
class Pulled:
    """What an extractor read: how to write it, how many rows, the cursor it reached."""

    rows: int
    write: Callable[[Path], None]
    cursor_to: Any
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Extracted:
    dataset: str
    file: str | None  # relative to the landing root; None when nothing new
    rows: int
    cursor_from: Any
    cursor_to: Any
    recovered: bool = False

    def describe(self) -> str:
        if self.file is None:
            return f"{self.dataset}: nothing new since cursor {self.cursor_from!r}"
        how = "recovered a stored extraction" if self.recovered else "extracted"
        span = ("" if self.cursor_to is None and self.cursor_from is None
                else f", cursor {self.cursor_from!r} -> {self.cursor_to!r}")
        return f"{self.dataset}: {how} {self.rows} row(s) into {self.file}{span}"


def cursor_text(value: Any) -> Any:
    """A cursor value as stored in JSON: ints stay ints, times become ISO text (UTC, naive)."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    return str(value)


def later(a: Any, b: Any) -> Any:
    """The greater of two cursor values (None is smallest)."""
    if a is None:
        return b
    if b is None:
        return a
    a, b = _numeric_like(a, b), _numeric_like(b, a)
    try:
        return max(a, b)
    except TypeError:
        return max(str(a), str(b))


def _numeric_like(value: Any, other: Any) -> Any:
    """'0' (a quoted initial value) compared with an integer cursor counts as 0."""
    if isinstance(value, str) and isinstance(other, (int, float)) and not isinstance(other, bool):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def state_path(state_root: Path, dataset: str) -> Path:
    return state_root / f"{dataset}.json"


def load_state(state_root: Path, contract: Contract) -> dict[str, Any]:
    path = state_path(state_root, contract.name)
    if path.exists():
        return json.loads(path.read_text(encoding="utf-8"))
    initial = contract.source.cursor.initial if contract.source.cursor else None
    return {"seq": 0, "cursor": initial, "deliveries": []}


def _write_atomically(path: Path, body: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with temp.open("wb") as handle:
        handle.write(body)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def _save_state(state_root: Path, dataset: str, state: dict[str, Any]) -> None:
    _write_atomically(state_path(state_root, dataset),
                      json.dumps(state, indent=2, default=str).encode("utf-8"))


def manifest_path(delivery: Path) -> Path:
    """The hidden manifest beside a stored extraction (hidden: the landing scan skips it)."""
    return delivery.with_name(f".{delivery.name}.manifest.json")


def read_manifest(delivery: Path) -> dict[str, Any] | None:
    """The manifest of an extraction; None for a delivered file (which has none, and whose
    name may already be as long as the file system allows)."""
    path = manifest_path(delivery)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return None
        raise


def _folder(landing_root: Path, contract: Contract) -> Path:
    base = landing_base(contract.landing_glob)
    return landing_root / (base or contract.name)


def _file_name(contract: Contract, seq: int) -> str:
    return f"{PREFIX}{seq:06d}.{contract.source.format.value}"


def _commit(state_root: Path, contract: Contract, state: dict[str, Any], seq: int,
            manifest: dict[str, Any], relative: str) -> None:
    state["seq"] = seq
    if manifest.get("cursor_to") is not None:
        state["cursor"] = later(state.get("cursor"), manifest["cursor_to"])
    state["deliveries"] = [*state.get("deliveries", [])[-99:], {
        "seq": seq, "file": relative, "rows": manifest["rows"],
        "cursor_from": manifest.get("cursor_from"), "cursor_to": manifest.get("cursor_to"),
        "extracted_at": manifest["extracted_at"]}]
    _save_state(state_root, contract.name, state)


def _lake_has(lake_root: Path | None, contract: Contract, name: str) -> dict[str, Any] | None:
    """The stored delivery ``name`` if it already went on into the lake (landing emptied)."""
    if lake_root is None:
        return None
    from dataops_platform.collect import lake

    for entry in lake.entries(lake_root, contract.name):
        if entry.file_name == name and entry.details:
            return entry.details
    return None


def extract(contract: Contract, landing_root: Path, state_root: Path,
            lake_root: Path | None = None) -> Extracted:
    """One extraction of ``contract``'s source into its landing folder (see module doc)."""
    state = load_state(state_root, contract)
    seq = int(state.get("seq", 0)) + 1
    folder = _folder(landing_root, contract)
    target = folder / _file_name(contract, seq)
    relative = target.relative_to(landing_root).as_posix()
    cursor_from = state.get("cursor")

    stored = read_manifest(target) if target.exists() else _lake_has(lake_root, contract, target.name)
    if stored is not None:  # stored by an extraction killed before its cursor moved
        _commit(state_root, contract, state, seq, stored, relative)
        return Extracted(contract.name, relative, stored["rows"], stored.get("cursor_from"),
                         stored.get("cursor_to"), recovered=True)
    for leftover in folder.glob(f".{PREFIX}*.tmp-*") if folder.exists() else []:
        leftover.unlink()  # a killed extraction's partial file: extracted again below

    pulled = _pull(contract, cursor_from)
    if pulled.rows == 0 and contract.source.cursor is not None:
        return Extracted(contract.name, None, 0, cursor_from, cursor_from)
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{target.name}.tmp-{os.getpid()}"
    pulled.write(temp)
    with temp.open("rb") as handle:
        os.fsync(handle.fileno())
    _fault("extract-after-write")  # killed mid-way: only the temporary file exists
    manifest = {
        "dataset": contract.name, "kind": contract.source.kind.value, "seq": seq,
        "mode": contract.source.extract_mode.value, "rows": pulled.rows,
        "cursor_from": cursor_from if contract.source.cursor else None,
        "cursor_to": cursor_text(later(cursor_from, pulled.cursor_to))
        if contract.source.cursor else None,
        "extracted_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="microseconds"),
        **pulled.details,
    }
    _write_atomically(manifest_path(target), json.dumps(manifest, indent=2, default=str).encode())
    os.replace(temp, target)  # the delivery is stored
    _fault("extract-after-store")  # killed before the cursor moved: adopted next time
    _commit(state_root, contract, state, seq, manifest, relative)
    return Extracted(contract.name, relative, pulled.rows, manifest["cursor_from"],
                     manifest["cursor_to"])


def _pull(contract: Contract, cursor: Any) -> Pulled:
    kind = contract.source.kind
    if kind in (SourceKind.postgres, SourceKind.mysql):
        from dataops_platform.collect.database import pull

        return pull(contract, cursor)
    if kind is SourceKind.http:
        from dataops_platform.collect.http_source import pull as pull_http

        return pull_http(contract, cursor)
    raise ExtractError(f"{contract.name}: a '{kind.value}' source is delivered as files, "
                       "not extracted")


def extract_all(contracts: Iterable[Contract], landing_root: Path, state_root: Path,
                lake_root: Path | None = None, only: str | None = None,
                ) -> tuple[list[Extracted], list[str]]:
    """Extract every database/API source (or only ``only``); return results and failures."""
    done: list[Extracted] = []
    failures: list[str] = []
    for contract in contracts:
        if not contract.source.extracted or (only and contract.name != only):
            continue
        try:
            done.append(extract(contract, landing_root, state_root, lake_root))
        except ExtractError as exc:
            failures.append(str(exc))
    return done, failures
