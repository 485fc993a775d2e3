"""The platform's Dagster component types: what a user project's ``defs/`` folders declare.

Registered through the ``dagster_dg_cli.registry_modules`` entry point, so ``dg list
components`` shows them and ``dg scaffold defs dataops_platform.components.Mart marts/x``
writes a new instance:

- ``Dataset``  a dataset contract: landed files -> raw -> cleaned (-> current), with checks
- ``Mart``     a curated table from a SQL file (or a Python function), audited and published
- ``Entity``   entity resolution over datasets: matches, stable entity IDs, golden records
- ``Platform`` the project's settings (home folder, DuckDB memory, kept versions) and what
  spans every dataset: resources, the landing and automation sensors, alerts, the scorecard
"""

from dataops_platform.components.dataset import Dataset
from dataops_platform.components.entity import Entity
from dataops_platform.components.mart import Mart
from dataops_platform.components.platform import Platform

__all__ = ["Dataset", "Entity", "Mart", "Platform"]
