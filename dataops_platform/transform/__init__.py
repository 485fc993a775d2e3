"""Transform: contract -> DuckDB SQL for typing, standardizing, rule evaluation and dedup."""
