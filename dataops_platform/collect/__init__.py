"""Collect: find landed files, decide what to ingest, and read them into DuckDB as delivered."""
