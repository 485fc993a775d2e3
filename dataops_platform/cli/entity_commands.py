"""`dataops review`: list borderline pairs of an entity and record decisions on them.

A decision is stored in ``entity.<name>__review`` and honoured on every later resolution;
``decide`` applies it at once by re-running the entity's resolution and golden record.
"""

from __future__ import annotations

import json

import click

from dataops_platform.resolve import state
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse, warehouse_exists
from dataops_platform.storage.sql import table_exists


def entity_spec(settings: Settings, name: str) -> EntitySpec:
    from dataops_platform.project.validate import load_entities

    specs = {s.name: s for s in load_entities(settings.project_dir)}
    if name not in specs:
        raise ValueError(f"No entity '{name}'; entities: {', '.join(specs) or 'none'} "
                         f"(entities are declared in {settings.project_dir / 'defs'}/**/defs.yaml "
                         "with type: dataops_platform.components.Entity).")
    return specs[name]


def render_review(settings: Settings, spec: EntitySpec, show_all: bool) -> str:
    if not warehouse_exists(settings.warehouse):
        return "Nothing resolved yet: `dataops run` resolves the entities."
    conn = open_warehouse(settings.warehouse, read_only=True)
    try:
        if not table_exists(conn, state.SCHEMA, f"{spec.name}__review"):
            return f"Entity '{spec.name}' has not been resolved yet: `dataops run` does it."
        where = "" if show_all else "where decision is null"
        rows = conn.execute(f"select left_id, right_id, score, decision, explanation "
                            f"from {state.part(spec, 'review')} {where} "
                            "order by score desc nulls last, left_id, right_id").fetchall()
    finally:
        conn.close()
    if not rows:
        return f"No {'' if show_all else 'undecided '}pairs in review for '{spec.name}'."
    lines = [f"{len(rows)} pair(s) {'in' if show_all else 'waiting for'} review ('{spec.name}'); "
             f"decide with: dataops review decide {spec.name} LEFT RIGHT match|distinct"]
    for left, right, score, decision, explanation in rows:
        score_text = f"{score:.3f}" if score is not None else "  -  "
        lines.append(f"  {left:<28} {right:<28} score {score_text}  {decision or 'undecided'}")
        for field, detail in (json.loads(explanation) if explanation else {}).items():
            lines.append(f"      {field:<14} {json.dumps(detail, default=str)}")
    return "\n".join(lines)


@click.group()
def review() -> None:
    """Borderline entity matches: list them and record match / distinct decisions."""


@review.command("list")
@click.argument("entity")
@click.option("--all", "show_all", is_flag=True, help="Also pairs already decided.")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def list_pairs(entity: str, show_all: bool, home: str | None) -> None:
    """Pairs scoring between the review and match thresholds, with the per-field explanation."""
    from dataops_platform.cli.main import _fail, _settings

    settings = _settings(home)
    try:
        click.echo(render_review(settings, entity_spec(settings, entity), show_all))
    except ValueError as exc:
        _fail(str(exc))


@review.command("decide")
@click.argument("entity")
@click.argument("left")
@click.argument("right")
@click.argument("decision", type=click.Choice(["match", "distinct"]))
@click.option("--note", default="", help="Why (kept with the decision).")
@click.option("--home", type=click.Path(file_okay=False), help="Home folder (else DATAOPS_HOME).")
def decide(entity: str, left: str, right: str, decision: str, note: str, home: str | None) -> None:
    """Record that LEFT and RIGHT (record ids like customers:17) are the same entity or not;
    the entity and its golden records are re-resolved at once."""
    from dataops_platform.automation.one_pass import (
        QUIET,
        PassResult,
        cli_tags,
        collect_result,
        prepare_instance,
    )
    from dataops_platform.cli.main import _fail, _settings
    from dataops_platform.factory import CURATED_JOB, build_platform
    from dataops_platform.resolve.run import record_decision

    settings = _settings(home)
    try:
        spec = entity_spec(settings, entity)
        if not warehouse_exists(settings.warehouse):
            raise ValueError("Nothing resolved yet: `dataops run` resolves the entities first.")
        conn = open_warehouse(settings.warehouse)
        try:
            record_decision(conn, spec, left, right, decision, note)
        finally:
            conn.close()
    except ValueError as exc:
        _fail(str(exc))
        return
    click.echo(f"recorded: {left} and {right} are {'the same' if decision == 'match' else 'distinct'}"
               f" {spec.name}s")
    platform = build_platform(settings)
    built = next(e for e in platform.entities if e.spec.name == spec.name)
    instance = prepare_instance(settings)
    outcome = platform.definitions.resolve_job_def(CURATED_JOB.name).execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, tags=cli_tags(),
        asset_selection=[k for a in built.assets for k in a.keys])
    result = PassResult()
    collect_result(instance, outcome, result)
    if result.failures:
        _fail("re-resolution failed: " + "; ".join(result.failures))
    click.echo(f"re-resolved {spec.name}: see entity.{spec.name} and curated.{spec.name}_golden")
