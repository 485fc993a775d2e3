"""The landing zone as a Dagster resource, so sensors, assets and tests can redirect it."""

from __future__ import annotations

from pathlib import Path

import dagster as dg


class LandingZone(dg.ConfigurableResource):
    """Root folder where files land; each contract's glob is relative to it."""

    root: str
    lake_root: str = ""  # where landed files are preserved; default: 'lake' beside root

    @property
    def path(self) -> Path:
        return Path(self.root)

    @property
    def state_path(self) -> Path:
        """Where database/API sources keep their cursors (``extract_state`` in the home)."""
        return Path(self.root).parent / "extract_state"

    @property
    def lake_path(self) -> Path:
        return Path(self.lake_root) if self.lake_root else Path(self.root).parent / "lake"
