"""The example project's definitions, as the UI lists them, against a committed snapshot.

Why: a change to a factory silently adds, drops or regroups assets, checks, jobs or sensors;
the diff of this file makes that a reviewed change. Regenerate after an intended change with
``DATAOPS_UPDATE_SNAPSHOTS=1 python -m pytest dataops_platform_tests/test_definitions_snapshot.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from dataops_platform.project.loading import load_project
from dataops_platform_tests.project_files import EXAMPLE

SNAPSHOT = Path(__file__).parent / "snapshots" / "webshop_definitions.txt"


def describe(defs: dg.Definitions) -> str:
    """One line per asset (group, kinds, partitioned, check names), job, sensor and schedule."""
    graph = defs.resolve_asset_graph()
    lines = ["# assets: key | group | kinds | partitioned | checks"]
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        checks = sorted(k.name for k in graph.asset_check_keys if k.asset_key == key)
        lines.append(f"{key.to_user_string()} | {node.group_name} | {','.join(sorted(node.kinds))} | "
                     f"{'partitioned' if node.is_partitioned else '-'} | {','.join(checks) or '-'}")
    repo = defs.get_repository_def()
    lines.append("# jobs (executor)")
    lines += sorted(f"{j.name} ({j.executor_def.name})" for j in repo.get_all_jobs()
                    if not j.name.startswith("__"))
    lines.append("# sensors")
    lines += sorted(f"{s.name} ({s.default_status.value})" for s in repo.sensor_defs)
    lines.append("# schedules")
    lines += sorted(f"{s.name} {s.cron_schedule}" for s in repo.schedule_defs)
    lines.append("# resources")
    lines += sorted(defs.resources or {})
    return "\n".join(lines) + "\n"


def test_the_example_projects_definitions_match_the_snapshot(tmp_path):
    platform = load_project(EXAMPLE, home=tmp_path / "home")
    dg.Definitions.validate_loadable(platform.definitions)
    text = describe(platform.definitions)
    if os.environ.get("DATAOPS_UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: generate it (see this module's docstring)"
    assert text == SNAPSHOT.read_text(encoding="utf-8"), \
        "the definitions changed; if intended, regenerate (see this module's docstring)"
    assert not (tmp_path / "home").exists()  # loading definitions writes nothing
