"""`streamfeed feed`: read one user's feed from storage, as the app declares it."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from streamfeed.api.views import feed_page, ranked_feed_page
from streamfeed.cli.common import JsonOption, Storage, load_app, reading_backend
from streamfeed.domain.activity import check_user_id
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.ids import sort_key_of
from streamfeed.feeds.flat import BaseFeed, Feed
from streamfeed.feeds.ranked import UnknownRanking
from streamfeed.render import describe_activity, render_feed

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
    ranking: Annotated[
        str | None, typer.Option(help="Order by one of the feed class's rankings (flat feeds), e.g. popular.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Print one user's feed, newest first or by a ranking (with --json: a page in the HTTP API's
    shape)."""

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
    if ranking is not None:
        _show_ranked(feed, group, user, limit, ranking, before, as_json)
        return
    if as_json:
        typer.echo(json.dumps(feed_page(feed, group, user, limit, before), sort_keys=True))
        return
    query = feed.filter(activity_id__lt=before) if before else feed
    typer.echo(render_feed(feed, query[:limit]))


def _show_ranked(
    feed: BaseFeed, group: str, user: str, limit: int, ranking: str, before: str | None, as_json: bool
) -> None:
    if before is not None:
        raise typer.BadParameter("a ranked page is not bounded by id", param_hint="--before")
    if not isinstance(feed, Feed):
        raise typer.BadParameter(
            f"{group!r} is not a flat feed: only flat feeds rank", param_hint="--ranking"
        )
    try:
        if as_json:
            typer.echo(json.dumps(ranked_feed_page(feed, group, user, limit, ranking), sort_keys=True))
            return
        shown = feed.ranked(ranking, limit, reader=user)
    except UnknownRanking as unknown:
        raise typer.BadParameter(str(unknown), param_hint="--ranking") from None
    lines = [f"{feed.key} by {ranking}"]
    lines += [
        f"  {score:10.4f}  {describe_activity(a)}"
        for a, score in zip(shown.activities, shown.scores, strict=True)
    ]
    typer.echo("\n".join(lines if shown.activities else [*lines, "  (empty)"]))
