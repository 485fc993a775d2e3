"""A Celery worker for the production profile: ``dataops worker`` execs this module with the
project, home and profile in its environment (``python -m dataops_platform.profiles.worker``).

It serves dagster-celery's ``execute_plan`` task on the ``dagster`` queue, one step at a time
(solo pool: one process, no forks; start more workers for more parallelism).
"""

from __future__ import annotations

import sys
from typing import Any

from dataops_platform.profiles import CELERY_CONFIG, celery_urls


def make_worker_app() -> Any:  # celery.Celery
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app
    from dagster_celery.tasks import create_task

    broker, backend = celery_urls()
    app = make_app(CeleryExecutor.for_cli(broker=broker, backend=backend,
                                            config_source=CELERY_CONFIG).app_args())
    create_task(app)
    return app


def main(argv: list[str]) -> None:
    name = argv[0] if argv else "dataops"
    make_worker_app().worker_main(["worker", "--pool=solo", "--concurrency=1", "-Q", "dagster",
                                   "-n", f"{name}@%h", "--loglevel=INFO", "--without-gossip",
                                   "--without-mingle", "--without-heartbeat"])


if __name__ == "__main__":
    main(sys.argv[1:])
