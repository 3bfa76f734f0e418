"""`streamfeed generations`: feed generations, which a rebuild writes and a switch makes live."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from streamfeed.cli.common import JsonOption, StorageOption
from streamfeed.storage.generations import GenerationalBackend, GenerationError, parse_generation_name, shown
from streamfeed.storage.registry import drop_generation, get_backend

app = typer.Typer(
    help="Generations of feeds: rebuilds write a new one, switch makes it live.", no_args_is_help=True
)


def _generational(storage: str | None) -> Any:

    backend = get_backend(storage)
    if not isinstance(backend, GenerationalBackend):
        raise typer.BadParameter("STREAMFEED_GENERATION pins one generation: unset it to manage them")
    return backend


@app.command("list")
def generations_list(storage: StorageOption = None, as_json: JsonOption = False) -> None:
    """Print every generation, the live one marked with *."""

    backend = _generational(storage)
    live = backend.store.live()
    if as_json:
        known = [{"name": shown(name), "live": name == live} for name in backend.store.known()]
        typer.echo(json.dumps({"generations": known, "live": shown(live)}, sort_keys=True))
        return
    for name in backend.store.known():
        typer.echo(f"{'*' if name == live else ' '} {shown(name)}")


@app.command("create")
def generations_create(name: str, storage: StorageOption = None) -> None:
    """Register an empty generation (a rebuild creates its own)."""

    backend = _generational(storage)
    with _generation_errors():
        name = parse_generation_name(name)
        backend.store.create(name)
    backend.backend_of(name)  # creates its schema where storage has one
    typer.echo(f"created generation {name}")


@app.command("switch")
def generations_switch(name: str, storage: StorageOption = None) -> None:
    """Make a generation live: readers follow within a second; restart workers to write it."""

    backend = _generational(storage)
    with _generation_errors():
        name = parse_generation_name(name)
        backend.store.switch(name)
    typer.echo(f"generation {shown(name)} is live")


@app.command("drop")
def generations_drop(name: str, storage: StorageOption = None) -> None:
    """Delete a generation's feeds; refuses the live one."""

    backend = _generational(storage)
    with _generation_errors():
        typer.echo(drop_generation(backend, parse_generation_name(name)))


@contextmanager
def _generation_errors() -> Iterator[None]:
    """A refused generation operation: the reason on stderr, status 2, no traceback."""

    try:
        yield
    except GenerationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
