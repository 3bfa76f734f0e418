"""`streamfeed graph`: the follow graph in storage, as an app shows it: followers and following
paged by user id, and the counts."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamfeed.app.manager import Manager
from streamfeed.cli.common import JsonOption, Storage, reading_backend
from streamfeed.domain.exceptions import ValidationError

app = typer.Typer(help="Read the follow graph from storage.", no_args_is_help=True)

UserArgument = Annotated[str, typer.Argument(help="User id.")]
StorageChoice = Annotated[
    Storage | None, typer.Option(help="Storage to read (default: the STREAMFEED_STORAGE setting).")
]
Limit = Annotated[int, typer.Option(help="How many users.", min=1, max=1000)]
After = Annotated[str | None, typer.Option(help="Only users after this user id (the last one shown).")]


def _manager(storage: Storage | None) -> Manager:
    return Manager(reading_backend(storage))


def _listing(
    which: str, user: str, limit: int, after: str | None, storage: Storage | None, as_json: bool
) -> None:
    manager = _manager(storage)
    read = manager.followers if which == "followers" else manager.following
    try:
        found = read(user, limit + 1, after)
    except ValidationError as error:
        raise typer.BadParameter(str(error)) from None
    page, more = found[:limit], len(found) > limit
    if as_json:
        report = {"user_id": user, "results": page, "next": page[-1] if more else None}
        typer.echo(json.dumps(report, sort_keys=True))
        return
    for user_id in page:
        typer.echo(user_id)
    if more:
        typer.echo(f"(more: --after {page[-1]})", err=True)


def _list_command(which: str, summary: str) -> None:
    """`graph followers` and `graph following`: the same options, one listing each."""

    def command(
        user: UserArgument,
        limit: Limit = 100,
        after: After = None,
        storage: StorageChoice = None,
        as_json: JsonOption = False,
    ) -> None:
        _listing(which, user, limit, after, storage, as_json)

    command.__doc__ = summary
    app.command(which)(command)


_list_command("followers", "Who follows USER, in user id order (with --json: the HTTP API's UserList shape).")
_list_command("following", "Whom USER follows, in user id order.")


@app.command("counts")
def graph_counts(user: UserArgument, storage: StorageChoice = None, as_json: JsonOption = False) -> None:
    """How many follow USER, and how many USER follows."""
    try:
        followers, following = _manager(storage).follow_counts(user)
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="USER") from None
    if as_json:
        typer.echo(
            json.dumps({"user_id": user, "followers": followers, "following": following}, sort_keys=True)
        )
        return
    typer.echo(f"{user}: {followers:,} followers, following {following:,}")
