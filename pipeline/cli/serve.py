"""`streamfeed serve`: the HTTP API, in one process or several."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from streamfeed.cli.common import load_app
from streamfeed.settings import get_settings


def serve(
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="Your Manager, as module:attribute.")
    ] = "streamfeed.default_app:manager",
    kafka: Annotated[
        bool, typer.Option(help="Publish writes to Kafka for the workers (default: apply them inline).")
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access log).")] = True,
    workers: Annotated[
        int | None, typer.Option(help="API processes on the port (default STREAMFEED_API_WORKERS).", min=1)
    ] = None,
) -> None:
    """Serve the HTTP API (STREAMFEED_API_*): feeds, publishing, follows, marks; OpenAPI at /docs."""

    import uvicorn

    from streamfeed.api.serve import APP_ENV, KAFKA_ENV, build_app

    settings = get_settings()
    workers = workers or settings.api_workers
    where = {"host": settings.api_host, "port": settings.api_port, "access_log": access_log}
    if workers == 1:
        uvicorn.run(build_app(app_path, kafka), log_level="info", **where)
        return
    if not kafka:
        raise typer.BadParameter(
            "inline writes have one writer, in one process: serve with --kafka to run several",
            param_hint="--workers",
        )
    load_app(app_path)  # a wrong --app fails here, once, not in every worker
    os.environ[APP_ENV], os.environ[KAFKA_ENV] = app_path, "1" if kafka else "0"
    factory = "streamfeed.api.serve:from_environment"
    uvicorn.run(factory, factory=True, workers=workers, log_level="info", **where)
