"""`streamfeed serve`: the HTTP API, in one process or several."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from streamfeed.cli.common import load_app
from streamfeed.kafka.clients import LIBRDKAFKA_LOG
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
    LIBRDKAFKA_LOG.setLevel(logging.WARNING)  # a long-running process logs its Kafka client's trouble

    import uvicorn  # noqa: PLC0415 (the HTTP server loads only to serve)

    from streamfeed.api.serve import APP_ENV, KAFKA_ENV, build_app  # noqa: PLC0415 (FastAPI loads only to serve)

    settings = get_settings()
    workers = workers or settings.api_workers
    host, port = settings.api_host, settings.api_port
    if workers == 1:
        uvicorn.run(build_app(app_path, kafka), host=host, port=port, access_log=access_log, log_level="info")
        return
    if not kafka:
        raise typer.BadParameter(
            "inline writes have one writer, in one process: serve with --kafka to run several",
            param_hint="--workers",
        )
    load_app(app_path)  # a wrong --app fails here, once, not in every worker
    os.environ[APP_ENV], os.environ[KAFKA_ENV] = app_path, "1" if kafka else "0"
    factory = "streamfeed.api.serve:from_environment"
    uvicorn.run(
        factory, factory=True, workers=workers, host=host, port=port, access_log=access_log, log_level="info"
    )
