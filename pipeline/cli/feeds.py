"""`streamfeed feed`: read one user's feed from storage, as the app declares it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamfeed.api.views import feed_page
from streamfeed.cli.common import JsonOption, Storage, load_app, reading_backend
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.ids import sort_key_of
from streamfeed.render import render_feed

app = typer.Typer(help="Read feeds from storage.", no_args_is_help=True)


@app.command("show")
def feed_show(
    group: Annotated[
        str, typer.Argument(help="Feed name: normal, user, aggregated, notification, or your app's.")
    ],
    user: Annotated[str, typer.Argument(help="User id.")],
    limit: Annotated[int, typer.Option(help="How many entries.", min=1, max=1000)] = 25,
    before: Annotated[str | None, typer.Option(help="Only entries older than this activity id.")] = None,
    storage: Annotated[
        Storage | None, typer.Option(help="Storage to read (default: the STREAMFEED_STORAGE setting).")
    ] = None,
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="Your Manager, as module:attribute: its feeds are shown.")
    ] = "streamfeed.default_app:manager",
    as_json: JsonOption = False,
) -> None:
    """Print one user's feed, newest first (with --json: a page in the HTTP API's shape)."""

    manager = load_app(app_path)
    classes = manager.all_feed_classes()
    if group not in classes:
        raise typer.BadParameter(f"unknown feed {group!r}; one of {', '.join(classes)}", param_hint="GROUP")
    try:
        check_user_id("user", user)
    except ValidationError as error:
        raise typer.BadParameter(str(error), param_hint="USER") from None
    if before is not None:
        try:
            sort_key_of(before)
        except ValueError:
            raise typer.BadParameter(f"{before!r} is not an activity id", param_hint="--before") from None
    feed = classes[group](user, backend=reading_backend(storage))
    if as_json:
        typer.echo(json.dumps(feed_page(feed, group, user, limit, before), sort_keys=True))
        return
    query = feed.filter(activity_id__lt=before) if before else feed
    typer.echo(render_feed(feed, query[:limit]))
