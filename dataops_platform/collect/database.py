"""Database sources (PostgreSQL, MySQL/MariaDB) read with connectorx into Arrow, stored as Parquet.

connectorx was chosen by measurement (``benchmarks/extract_postgres.py``, figures in the
README): on a 1M-row PostgreSQL table it reads several times faster than a cursor over
psycopg and with a fraction of the memory of pandas, and it returns Arrow, which is written
to Parquet without a copy. The connection URL comes from the environment variable the
contract names (``connection_env``), never from the contract itself.
"""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import urlsplit

from dataops_platform.collect.extract import ExtractError, Pulled, cursor_text
from dataops_platform.contracts.model import Contract, SourceKind

_SCHEMES = {SourceKind.postgres: ("postgresql", "postgres"), SourceKind.mysql: ("mysql", "mariadb")}
_DEFAULT_PORTS = {SourceKind.postgres: 5432, SourceKind.mysql: 3306}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def connection_url(contract: Contract) -> str:
    import os

    name = contract.source.connection_env or ""
    url = os.environ.get(name, "")
    if not url:
        raise ExtractError(f"{contract.name}: the environment variable {name} (the "
                           f"{contract.source.kind.value} connection URL) is not set; the cursor "
                           "did not move")
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES[contract.source.kind]:
        raise ExtractError(f"{contract.name}: {name} is a '{scheme}' URL, not "
                           f"{' or '.join(_SCHEMES[contract.source.kind])}://...")
    if scheme == "postgres":
        url = "postgresql" + url[len("postgres"):]
    if scheme == "mariadb":
        url = "mysql" + url[len("mariadb"):]
    return url


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    host = f"{parts.hostname}:{parts.port}" if parts.port else f"{parts.hostname}"
    return f"{parts.scheme}://{host}{parts.path}"


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def build_query(contract: Contract, cursor: Any) -> str:
    """The SQL of one extraction: the table or query, beyond the cursor, in cursor order."""
    source = contract.source
    base = f"select * from {source.table}" if source.table else f"select * from ({source.query}) src"
    if source.cursor is None:
        return base
    column = source.cursor.column or ""
    if not _IDENT.match(column):
        raise ExtractError(f"{contract.name}: cursor column {column!r} is not a plain column name")
    where = f" where {column} > {_literal(cursor)}" if cursor is not None else ""
    return f"{base}{where} order by {column}"


def _reachable(url: str, kind: SourceKind) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "localhost", parts.port or _DEFAULT_PORTS[kind]
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as exc:
        raise ExtractError(f"cannot reach {host}:{port} ({exc.strerror or exc})") from None


def pull(contract: Contract, cursor: Any) -> Pulled:
    try:
        import connectorx as cx
    except ImportError:
        raise ExtractError(f"{contract.name}: database sources need connectorx: pip install "
                           "'dataops-platform[databases]'") from None
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    url = connection_url(contract)
    query = build_query(contract, cursor)
    where = f"{contract.source.kind.value} source of '{contract.name}' ({_redacted(url)})"
    try:
        _reachable(url, contract.source.kind)
        table = cx.read_sql(url, query, return_type="arrow")
    except ExtractError as exc:
        raise ExtractError(f"the {where} is down: {exc}; nothing was extracted and the cursor "
                           f"stays at {cursor!r}") from None
    except Exception as exc:  # connectorx raises RuntimeError/ValueError with the server's text
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ExtractError(f"the {where} failed: {detail}; nothing was extracted and the cursor "
                           f"stays at {cursor!r}") from None
    column = contract.source.cursor.column if contract.source.cursor else None
    cursor_to = None
    if column is not None and table.num_rows:
        if column not in table.column_names:
            raise ExtractError(f"{contract.name}: the cursor column {column!r} is not in the "
                               f"extracted columns {table.column_names}")
        cursor_to = cursor_text(pc.max(table[column]).as_py())

    def write(path: Any) -> None:
        pq.write_table(table, path)

    return Pulled(rows=table.num_rows, write=write, cursor_to=cursor_to,
                  details={"query": query, "source": _redacted(url), "library": "connectorx",
                           "columns": table.column_names})
