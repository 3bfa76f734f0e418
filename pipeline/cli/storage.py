"""`streamfeed storage`: the identity that tells a worker its storage still holds the group's
data (see streamfeed.consumers.storage_guard)."""

from __future__ import annotations

import json
import uuid

import typer

from streamfeed.cli.common import JsonOption, StorageOption
from streamfeed.storage.registry import get_backend

app = typer.Typer(help="The storage's identity: workers refuse to write into storage that lost it.")


@app.command("show")
def storage_show(storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """Print the live generation's identity; exit 1 if it has none."""

    identity = get_backend(storage).marker.read()
    if as_json:
        typer.echo(json.dumps({"identity": identity}))
        if identity is None:
            raise typer.Exit(1)
        return
    if identity is None:
        typer.echo("no identity: a new storage, or one that lost its data (see `streamfeed status`)")
        raise typer.Exit(1)
    typer.echo(identity)


@app.command("claim")
def storage_claim(
    storage: StorageOption = None,
    yes: bool = typer.Option(False, "--yes", help="Claim without asking."),
) -> None:
    """Accept the storage as it is: workers that refused to write into it (it lost the group's
    data) adopt the new identity and write on. Feeds keep what they lost; `streamfeed rebuild
    --switch` rebuilds them instead."""

    backend = get_backend(storage)
    if backend.marker.read() is not None:
        typer.echo(f"the storage has an identity already: {backend.marker.read()}")
        return
    if not yes:
        typer.confirm("Workers will write into this storage as it is, with what it lost. Go on?", abort=True)
    typer.echo(f"claimed: {backend.marker.claim(uuid.uuid4().hex)}")
