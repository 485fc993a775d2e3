"""The one rule for partition keys, checked wherever a key meets SQL.

Every partition is one landed file version: ``<slug of the file name>@<12 hex of sha256>``
(see ``collect/landing.py``). Keys made by the landing sensor always have that shape; a key
added by hand in the UI or through the API may not. So every boundary where a key reaches
the warehouse (the IO manager, ``TableRef``, the cleaned asset, the per-file checks)
validates it first, and filters are built as SQL with parameters, never spliced text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

PARTITION_KEY_RULE = r"^[A-Za-z0-9._-]+@[0-9a-f]{12}$"
_PARTITION_KEY = re.compile(PARTITION_KEY_RULE)


class UnsafePartitionKey(ValueError):
    """A partition key that is not of the form ``<file>@<hash12>``; nothing was read or written."""

    def __init__(self, key: object) -> None:
        self.key = key
        shown = repr(key) if len(repr(key)) <= 120 else repr(key)[:117] + "..."
        super().__init__(
            f"partition key {shown} is not a landed-file key (<file name>@<12 hex digits>, "
            f"matching {PARTITION_KEY_RULE}); it was rejected and nothing was read or written. "
            "Keys are made by the landing sensor or `dataops run`; delete a partition added by "
            "hand in the UI (Assets > the asset > Partitions) or with "
            "`instance.delete_dynamic_partition`."
        )


def is_partition_key(key: object) -> bool:
    return isinstance(key, str) and _PARTITION_KEY.fullmatch(key) is not None


def validate_partition_key(key: object) -> str:
    """Return ``key`` if it follows the rule; raise :class:`UnsafePartitionKey` otherwise."""
    if not is_partition_key(key):
        raise UnsafePartitionKey(key)
    return str(key)


def validate_partition_keys(keys: Iterable[object]) -> list[str]:
    return [validate_partition_key(k) for k in keys]


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def partition_filter(column: str, keys: Sequence[object]) -> tuple[str, list[str]]:
    """``(sql, params)`` selecting the rows of ``keys`` in ``column``: ``"col" in (?, ?)``.

    No keys selects nothing (``false``). Every key is validated first.
    """
    checked = validate_partition_keys(keys)
    if not checked:
        return "false", []
    return f"{_ident(column)} in ({', '.join('?' for _ in checked)})", checked


def partition_literal_filter(column: str, keys: Sequence[object]) -> str:
    """The same filter as self-contained SQL text, for queries composed into larger ones
    (a subquery handed to another statement cannot carry parameters). Safe because every
    key is validated against the rule, which admits no quote, space or semicolon."""
    checked = validate_partition_keys(keys)
    if not checked:
        return "false"
    return f"{_ident(column)} in ({', '.join(chr(39) + k + chr(39) for k in checked)})"


def require_partition_key(key: object) -> str:
    """``validate_partition_key`` for asset and check bodies: a bad key fails the step with
    the rule in its message (no retry), before any SQL is built."""
    import dagster as dg  # local: this module is also used where Dagster is not needed

    try:
        return validate_partition_key(key)
    except UnsafePartitionKey as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
