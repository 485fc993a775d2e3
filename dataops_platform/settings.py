"""Where the platform keeps its state, chosen by two environment variables.

Everything the platform writes lives under one *home* folder so a laptop run is one
`rm -rf` away from clean and tests can use a temporary home:

- ``DATAOPS_HOME``      the home folder (default: ``.dataops/`` in the checkout, git-ignored)
- ``DATAOPS_CONTRACTS`` the folder of dataset contracts (default: the bundled demo contracts)
- ``DATAOPS_DUCKDB_MEMORY_LIMIT`` DuckDB's memory cap per process (default 1GB; it spills
  to disk beyond it, which keeps a 5M-row file under 2 GB of RSS)
- ``DATAOPS_KEEP_VERSIONS`` published versions kept per write-audit-publish table, with
  their serving files (default 5, at least 2: the live one and the rollback target)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "DATAOPS_HOME"
CONTRACTS_ENV = "DATAOPS_CONTRACTS"
MEMORY_LIMIT_ENV = "DATAOPS_DUCKDB_MEMORY_LIMIT"
KEEP_VERSIONS_ENV = "DATAOPS_KEEP_VERSIONS"

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
DEMO_CONTRACTS_DIR = PACKAGE_DIR / "demo" / "contracts"
DEMO_SAMPLE_DATA_DIR = PACKAGE_DIR / "demo" / "sample_data"


@dataclass(frozen=True)
class Settings:
    """Resolved locations; derived paths are properties so nothing can disagree."""

    home: Path
    contracts_dir: Path
    duckdb_memory_limit: str = "1GB"
    keep_versions: int = 5

    @classmethod
    def from_env(cls) -> Settings:
        home = os.environ.get(HOME_ENV) or str(PROJECT_DIR / ".dataops")
        contracts = os.environ.get(CONTRACTS_ENV) or str(DEMO_CONTRACTS_DIR)
        return cls(home=Path(home).expanduser().resolve(),
                   contracts_dir=Path(contracts).expanduser().resolve(),
                   duckdb_memory_limit=os.environ.get(MEMORY_LIMIT_ENV) or "1GB",
                   keep_versions=max(2, int(os.environ.get(KEEP_VERSIONS_ENV) or 5)))

    @property
    def landing_dir(self) -> Path:
        """Files land here, one sub-folder per dataset by default."""
        return self.home / "landing"

    @property
    def lake_dir(self) -> Path:
        """Every landed file, preserved immutably by dataset and arrival date (rebuilds)."""
        return self.home / "lake"

    @property
    def warehouse_path(self) -> Path:
        """The DuckDB file holding the raw, cleaned, curated and quarantine schemas."""
        return self.home / "warehouse.duckdb"

    @property
    def alerts_log(self) -> Path:
        """One JSON object per alert (failed check or run), appended by the alerts sensor."""
        return self.home / "alerts.jsonl"

    @property
    def reports_dir(self) -> Path:
        """Static HTML quality reports: one per run/pass/gate, and latest.html."""
        return self.home / "reports"

    @property
    def serving_dir(self) -> Path:
        """Published tables as Parquet (and views.sql) for readers that must not block runs."""
        return self.home / "serving"

    @property
    def duckdb_config(self) -> dict[str, str]:
        """Connection settings every warehouse connection of a process must share."""
        return {"memory_limit": self.duckdb_memory_limit}

    @property
    def dagster_home(self) -> Path:
        """The Dagster instance (run history, sensor cursors, concurrency pools)."""
        return self.home / "dagster"

    def ensure(self) -> Settings:
        """Create the folders the platform writes to; idempotent."""
        for path in (self.home, self.landing_dir, self.lake_dir, self.dagster_home):
            path.mkdir(parents=True, exist_ok=True)
        return self
