"""dataops-platform: contract-driven raw -> cleaned -> curated pipelines on Dagster and DuckDB."""
