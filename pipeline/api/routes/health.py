"""Probes for orchestrators: /healthz (the process answers) and /readyz (its storage answers and
still holds the data it held when the process started); /metrics for Prometheus.

Not in the OpenAPI document and never rate-limited or authenticated: a
load balancer or Kubernetes asks them every few seconds.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

router = APIRouter(include_in_schema=False)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus exposition: requests by route, latency, open streams, process figures."""
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type)


@router.get("/healthz")
async def healthz() -> PlainTextResponse:
    return PlainTextResponse("ok\n")


@router.get("/readyz")
async def readyz(request: Request) -> PlainTextResponse:
    """503 while storage (or, publishing to Kafka, a broker) does not answer, or when the
    storage's identity went or changed since startup (a Redis restarted empty: every page would
    come back empty; see streamfeed.consumers.storage_guard for the workers' side)."""
    manager = request.app.state.manager
    reachable = getattr(manager.driver, "reachable", None)
    if reachable is not None:  # --kafka: writes are published, so Kafka must answer too
        try:
            await asyncio.to_thread(reachable)
        except Exception as error:
            return PlainTextResponse(f"kafka unreachable: {error.__class__.__name__}\n", status_code=503)
    if manager.backend.name == "memory":
        return PlainTextResponse("ready\n")
    try:
        found = await asyncio.to_thread(lambda: manager.backend.marker.read())
    except Exception as error:  # unreachable storage: not ready, and why
        return PlainTextResponse(f"storage unreachable: {error.__class__.__name__}\n", status_code=503)
    started = request.app.state.storage_identity
    if started is not None and found != started:
        what = "is gone" if found is None else f"changed to {found}"
        return PlainTextResponse(
            f"storage lost: its identity {started} {what} (run `streamfeed rebuild --switch`)\n",
            status_code=503,
        )
    if started is None and found is not None:  # claimed since startup (a worker's first run)
        request.app.state.storage_identity = found
    return PlainTextResponse("ready\n")
