"""A generic code location: the project DATAOPS_PROJECT names (else the one around the
working directory, else the bundled example). A project's own ``definitions.py`` is the
usual entry point; this one serves deployments that point at a project by path."""

import dagster as dg

from dataops_platform.project.loading import current_project, load_project


@dg.definitions
def defs() -> dg.Definitions:
    project, default_home = current_project()  # the example's home: ./.dataops, not the package
    return load_project(project, home=default_home).definitions
