"""The one place the platform reaches into Dagster's internals (``dagster._core``).

Everything else uses ``import dagster as dg``. What is here has no public equivalent in
Dagster 1.13: the storage API's record and filter types, the asset graph's type, the
base classes ``dagster-duckdb`` itself builds its IO manager on, and the reconstructable
repository a Celery worker rebuilds a job from. A Dagster upgrade that moves them breaks
this module only.
"""

from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES,
    AssetCheckExecutionRecord,
)
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice

__all__ = [
    "COMPLETED_ASSET_CHECK_EXECUTION_RECORD_STATUSES",
    "AssetCheckEvaluationTargetMaterializationData",
    "AssetCheckExecutionRecord",
    "AssetGraph",
    "DbIOManager",
    "DbTypeHandler",
    "PartitionKeyFilter",
    "ReconstructableRepository",
    "TableSlice",
]
