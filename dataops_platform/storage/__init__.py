"""Storage: the DuckDB warehouse, its IO manager and the SQL helpers both use."""
