"""The streamfeed command line: one Typer app, a sub-command per job."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer

app = typer.Typer(
    help="streamfeed: newsfeeds, aggregated and notification feeds as a Kafka stream pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


class Storage(StrEnum):
    memory = "memory"
    redis = "redis"
    cassandra = "cassandra"


schema_app = typer.Typer(help="Storage schema (Cassandra keyspace and tables).", no_args_is_help=True)
feed_app = typer.Typer(help="Read feeds from storage.", no_args_is_help=True)
app.add_typer(schema_app, name="schema")
app.add_typer(feed_app, name="feed")


@schema_app.command("sync")
def schema_sync(
    replication_factor: Annotated[
        int | None,
        typer.Option(help="For a new keyspace only; default STREAMFEED_CASSANDRA_REPLICATION_FACTOR."),
    ] = None,
    adopt: Annotated[
        bool, typer.Option(help="Add streamfeed's tables to an existing keyspace that has others.")
    ] = False,
) -> None:
    """Create the Cassandra keyspace and tables if missing and add missing columns; never drops."""
    from pipeline.settings import get_settings
    from storage.cassandra_storage import SchemaConflict, connect_cluster, sync_schema

    settings = get_settings()
    cluster = connect_cluster(settings.cassandra_hosts, settings.cassandra_port)
    try:
        session = cluster.connect()
        replicas = replication_factor or settings.cassandra_replication_factor
        done = sync_schema(session, settings.cassandra_keyspace, replicas, adopt=adopt)
    except SchemaConflict as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    finally:
        cluster.shutdown()
    for line in done:
        typer.echo(line)
    typer.echo(f"schema of keyspace {settings.cassandra_keyspace} is up to date")


@feed_app.command("show")
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
    ] = "pipeline.default_app:manager",
) -> None:
    """Print one user's feed, newest first."""
    from pipeline.activity import check_user_id
    from pipeline.exceptions import ValidationError
    from pipeline.ids import sort_key_of
    from pipeline.render import render_feed
    from pipeline.settings import get_settings
    from storage.registry import get_backend

    manager = load_manager(app_path)
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
    name = storage.value if storage is not None else get_settings().storage
    if name == "memory":
        typer.echo(
            "note: memory storage holds only what this process wrote; set STREAMFEED_STORAGE "
            "(or --storage) to read redis or cassandra",
            err=True,
        )
    feed = classes[group](user, backend=get_backend(name))
    query = feed.filter(activity_id__lt=before) if before else feed
    typer.echo(render_feed(feed, query[:limit]))


topics_app = typer.Typer(help="Kafka topics of the pipeline.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")


def load_manager(path: str) -> Any:
    """Import 'module:attribute' (like faust -A) and return the Manager it names.

    The current directory goes on the import path first, as Faust's and
    Celery's -A do: `streamfeed worker --app myapp.feeds:manager` works from
    the folder that holds myapp/.
    """
    import os
    import sys

    from pipeline.manager import Manager

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise typer.BadParameter(f"{path!r}: use module:attribute, e.g. myapp.feeds:manager")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise typer.BadParameter(f"cannot import {module_name!r}: {exc}") from None
    manager = getattr(module, attribute, None)
    if not isinstance(manager, Manager):
        raise typer.BadParameter(f"{path!r} is {type(manager).__name__}, not a streamfeed Manager")
    return manager


@app.command()
def worker(
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="The Manager to run, as module:attribute.")
    ] = "pipeline.default_app:manager",
    loglevel: Annotated[str, typer.Option(help="Log level.")] = "info",
    processes: Annotated[
        int,
        typer.Option(
            min=0,
            help="Worker processes to run (one uses about one core); 0: one per core. With a "
            "metrics port P, process n serves it on P + n.",
        ),
    ] = 1,
) -> None:
    """Run the pipeline's agents (fanout, follows, materializers) in one consumer group member.

    Waits for Kafka and storage if they are not up yet; exits 75 after a
    storage outage longer than STREAMFEED_WORKER_RETRY_DEADLINE and 70 on an
    unexpected error, in both cases without committing (restart it). With --processes N, a
    pool of N such members that ends (with the member's code) when one ends on its own.
    """
    from pipeline.kafka_runner import die_with_parent_if_asked
    from pipeline.settings import get_settings
    from pipeline.worker_pool import processes_for, run_pool

    die_with_parent_if_asked()
    if (count := processes_for(processes)) > 1:
        member = ["--app", app_path, "--loglevel", loglevel, "--processes", "1"]
        raise typer.Exit(run_pool(member, count, get_settings().metrics_port))

    import faulthandler
    import logging

    from consumers.app import build_worker_app
    from consumers.metrics import WorkerMetrics, serve_http
    from consumers.worker import Readiness, StreamfeedWorker, kafka_reachable, topics_present, wait_for

    # A crash in a C extension (librdkafka, the Cassandra driver, hiredis) leaves
    # Python's stack of every thread in the worker's log instead of nothing.
    faulthandler.enable(all_threads=True)
    logging.basicConfig(
        level=loglevel.upper(), format="[%(asctime)s] [%(process)d] %(levelname)s %(message)s"
    )
    settings = get_settings()
    readiness = Readiness()
    metrics = WorkerMetrics(readiness)
    if settings.metrics_port is not None:  # up before the waits: live, not ready, and saying why
        serve_http(metrics, settings.metrics_host, settings.metrics_port)
    if settings.generation is None and settings.storage != "memory":
        settings = _pin_live_generation(settings, readiness)
    # The app first: a typo in --app is a usage error at once, not a wait for Kafka.
    manager = wait_for(f"{settings.storage} storage", lambda: load_manager(app_path), readiness)
    wait_for("Kafka", lambda: kafka_reachable(settings.kafka_bootstrap), readiness, settings.stats_interval)
    wait_for("the pipeline's topics", lambda: topics_present(settings), readiness, settings.stats_interval)
    faust_app, context = build_worker_app(manager, settings, metrics)
    context.readiness = metrics.readiness = readiness
    context.runtime.readiness = readiness
    StreamfeedWorker(faust_app, context.runtime, settings, loglevel=loglevel).execute_from_commandline()


def _pin_live_generation(settings: Any, readiness: Any) -> Any:
    """A worker writes the generation live when it starts, and only that one.

    Readers follow a switch; writers do not, so the group building a new
    generation and the live group never write the same one at once. Restart
    the workers after a switch (see the README's runbook).
    """
    import os

    from consumers.worker import wait_for
    from pipeline.settings import get_settings
    from storage.registry import create_generational_backend

    def live() -> str:
        backend = create_generational_backend(settings.storage, settings)
        try:
            return backend.store.live()
        finally:
            backend.close()

    generation = wait_for(f"{settings.storage} storage", live, readiness, settings.stats_interval)
    os.environ["STREAMFEED_GENERATION"] = generation  # what the app's Manager() will read
    get_settings.cache_clear()
    return get_settings()


@topics_app.command("create")
def topics_create() -> None:
    """Create the pipeline's topics if missing; refuse if co-partitioned counts disagree."""
    from pipeline.settings import get_settings
    from pipeline.topics import CoPartitioningError, create_topics

    try:
        for line in create_topics(get_settings()):
            typer.echo(line)
    except CoPartitioningError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@topics_app.command("list")
def topics_list() -> None:
    """Print the topics the pipeline uses, with their purpose."""
    from pipeline.settings import get_settings
    from pipeline.topics import topic_specs

    for spec in topic_specs(get_settings()):
        hours = spec.retention_ms // 3_600_000
        retention = "forever" if spec.retention_ms < 0 else f"{hours} h"
        shape = f"{spec.partitions:>3} partitions  retention {retention:<10}"
        typer.echo(f"{spec.name:<24} {shape} {spec.purpose}")


generations_app = typer.Typer(
    help="Generations of feeds: rebuilds write a new one, switch makes it live.", no_args_is_help=True
)
app.add_typer(generations_app, name="generations")


def _generational(storage: str | None) -> Any:
    from storage.generations import GenerationalBackend
    from storage.registry import get_backend

    backend = get_backend(storage)
    if not isinstance(backend, GenerationalBackend):
        raise typer.BadParameter("STREAMFEED_GENERATION pins one generation: unset it to manage them")
    return backend


StorageOption = Annotated[str | None, typer.Option(help="memory, redis or cassandra (default: setting).")]


@generations_app.command("list")
def generations_list(storage: StorageOption = None) -> None:
    """Print every generation, the live one marked with *."""
    from storage.generations import shown

    backend = _generational(storage)
    live = backend.store.live()
    for name in backend.store.known():
        typer.echo(f"{'*' if name == live else ' '} {shown(name)}")


@generations_app.command("create")
def generations_create(name: str, storage: StorageOption = None) -> None:
    """Register an empty generation (a rebuild creates its own)."""
    from storage.generations import parse_generation_name

    backend = _generational(storage)
    with _generation_errors():
        name = parse_generation_name(name)
        backend.store.create(name)
    backend.backend_of(name)  # creates its schema where storage has one
    typer.echo(f"created generation {name}")


@generations_app.command("switch")
def generations_switch(name: str, storage: StorageOption = None) -> None:
    """Make a generation live: readers follow within a second; restart workers to write it."""
    from storage.generations import parse_generation_name, shown

    backend = _generational(storage)
    with _generation_errors():
        name = parse_generation_name(name)
        backend.store.switch(name)
    typer.echo(f"generation {shown(name)} is live")


@generations_app.command("drop")
def generations_drop(name: str, storage: StorageOption = None) -> None:
    """Delete a generation's feeds; refuses the live one."""
    from storage.generations import parse_generation_name
    from storage.registry import drop_generation

    backend = _generational(storage)
    with _generation_errors():
        typer.echo(drop_generation(backend, parse_generation_name(name)))


@contextmanager
def _generation_errors() -> Iterator[None]:
    """A refused generation operation: the reason on stderr, status 2, no traceback."""
    from storage.generations import GenerationError

    try:
        yield
    except GenerationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def rebuild(
    generation: Annotated[
        str | None, typer.Option(help="Name of the new generation (default: g<timestamp>).")
    ] = None,
    from_time: Annotated[
        str | None, typer.Option(help="Replay from this ISO time instead of the start of the topics.")
    ] = None,
    workers: Annotated[int, typer.Option(help="Rebuild workers to run.", min=1)] = 1,
    switch: Annotated[bool, typer.Option(help="Make the new generation live once it caught up.")] = False,
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="The Manager the rebuild workers run, as module:attribute.")
    ] = "pipeline.default_app:manager",
    user: Annotated[
        str | None,
        typer.Option(
            help="Rebuild only this user's feeds, in the live generation, through the live workers."
        ),
    ] = None,
    graph: Annotated[
        bool,
        typer.Option(
            help="With --user: restore the user's follow graph too (lost follow keys), by sending "
            "every follow event with the user on either side again."
        ),
    ] = False,
) -> None:
    """Rebuild every feed into a new generation from the activities and follows topics.

    The live pipeline keeps running: the rebuild has its own consumer group,
    feed-ops and dead-letter topics. Interrupted, run the same command (same
    --generation) again: it resumes where its group committed.
    """
    from datetime import UTC, datetime

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from pipeline.rebuild import default_generation_name, run_rebuild
    from pipeline.settings import get_settings
    from storage.generations import GenerationError, check_generation_name

    if user is not None:
        from pipeline.rebuild import rebuild_user

        manager = load_manager(app_path)
        sent = rebuild_user(get_settings(), manager, user, graph=graph)
        typer.echo(
            f"sent {sent.batches} batches and {sent.marks} marks to {user}'s feed-ops partition"
            + (f", {sent.follows} follow events to the follows topic" if graph else "")
            + ": the live workers apply them"
        )
        if not graph and not manager.backend.follows.following(user):
            typer.echo(f"{user} follows nobody in storage; if follow keys were lost, add --graph", err=True)
        return
    name = generation or default_generation_name()
    try:
        name = check_generation_name(name)
    except GenerationError as error:
        raise typer.BadParameter(str(error), param_hint="--generation") from None
    when = None
    if from_time is not None:
        when = datetime.fromisoformat(from_time)
        when = when if when.tzinfo else when.replace(tzinfo=UTC)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events  {task.fields[lag]}"),
        TimeRemainingColumn(),
    )
    with Progress(*columns) as bar:
        task = bar.add_task(f"rebuilding {name}", total=None, lag="")

        def report(progress) -> None:
            lag = ", ".join(f"{topic} lag {n}" for topic, n in sorted(progress.lag_by_topic.items()) if n)
            bar.update(task, completed=progress.applied, total=progress.total, lag=lag)

        result = run_rebuild(get_settings(), name, workers, when, switch, report=report, app_path=app_path)
    rate = result.events / max(result.seconds, 1e-9)
    typer.echo(f"generation {name}: {result.events} events in {result.seconds:.1f}s ({rate:,.0f}/s)")
    typer.echo(
        f"generation {name} is live" if switch else f"make it live: streamfeed generations switch {name}"
    )


dead_letters_app = typer.Typer(help="Records the pipeline rejected, with why.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")


def _since(value: str | None) -> Any:
    """An ISO time, or an age like 30m, 2h, 1d."""
    from datetime import UTC, datetime, timedelta

    if value is None:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) - timedelta(seconds=int(value[:-1]) * units[value[-1]])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use an ISO time or an age like 30m, 2h, 1d") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


SinceOption = Annotated[
    str | None, typer.Option(help="Only letters rejected since: an ISO time or an age (30m, 2h, 1d).")
]
ReasonOption = Annotated[
    str | None, typer.Option(help="Only letters whose error type or reason contains this text.")
]


@dead_letters_app.command("list")
def dead_letters_list(
    since: SinceOption = None,
    reason: ReasonOption = None,
    limit: Annotated[int, typer.Option(help="At most this many, oldest first.")] = 100,
) -> None:
    """Print dead letters: when, where from (topic[partition]@offset), why, and the start of the bytes."""
    from pipeline.dead_letters import read_dead_letters
    from pipeline.settings import get_settings

    cutoff = _since(since)
    shown = total = 0
    for letter in read_dead_letters(get_settings()):
        if not letter.matches(reason, cutoff):
            continue
        total += 1
        if shown < limit:
            shown += 1
            typer.echo(
                f"{letter.failed_at:%Y-%m-%d %H:%M:%S} {letter.topic}[{letter.source_partition}]"
                f"@{letter.source_offset} {letter.error_type}: {letter.error}\n    {letter.preview()}"
            )
    typer.echo(f"{total} dead letters" + (f", {shown} shown" if shown < total else ""))


@dead_letters_app.command("replay")
def dead_letters_replay(
    since: SinceOption = None,
    reason: ReasonOption = None,
    dry_run: Annotated[bool, typer.Option(help="Count what would be replayed; publish nothing.")] = False,
) -> None:
    """Re-publish dead letters to the topics they came from, after fixing their cause."""
    from pipeline.dead_letters import read_dead_letters, replay_dead_letters
    from pipeline.settings import get_settings

    settings = get_settings()
    cutoff = _since(since)
    letters = [letter for letter in read_dead_letters(settings) if letter.matches(reason, cutoff)]
    if dry_run:
        typer.echo(f"{len(letters)} dead letters would be replayed")
        return
    replayed = replay_dead_letters(settings, letters)
    typer.echo(f"replayed {replayed} dead letters to their original topics")


AppOption = Annotated[
    str,
    typer.Option("--app", "-A", help="Your Manager, as module:attribute: its feeds and verbs are checked."),
]


@app.command()
def produce(
    source: Annotated[
        typer.FileBinaryRead, typer.Argument(help="JSON lines file, or - for standard input.")
    ] = "-",
    dry_run: Annotated[bool, typer.Option(help="Check every line (and encode it); publish nothing.")] = False,
    atomic: Annotated[
        bool, typer.Option(help="All or nothing: publish only if every line passes the checks.")
    ] = False,
    app_path: AppOption = "pipeline.default_app:manager",
) -> None:
    """Publish events from JSON lines (format: README, "Publishing events"; JSON Schema:
    schemas/events.schema.json). A bad line is reported with its number and skipped; every
    good line is published (with --atomic, none unless all pass). Exit status 1 if any line was
    refused."""
    from pipeline.producer import DeliveryError
    from pipeline.settings import get_settings

    manager = load_manager(app_path)
    settings = get_settings()
    checker = _EventChecker(manager, settings)
    if atomic and not dry_run:  # check everything before connecting; publish only a clean file
        lines = list(source)
        _, refused = _produce_lines(lines, checker, None)
        if refused:
            typer.echo(f"0 published, {refused} rejected: nothing published (--atomic)")
            raise typer.Exit(1)
        source = lines
    producer = None
    if not dry_run:
        from pipeline.producer import StreamfeedProducer

        producer = StreamfeedProducer(settings)
    published, rejected = _produce_lines(source, checker, producer)
    if producer is not None:
        try:
            producer.flush()
        except DeliveryError as error:
            typer.echo(f"error: {error}", err=True)
            raise typer.Exit(1) from None
    verb = "valid" if dry_run else "published"
    typer.echo(f"{published} {verb}, {rejected} rejected")
    if rejected:
        raise typer.Exit(1)


def _produce_lines(lines: Any, checker: Any, producer: Any) -> tuple[int, int]:
    """Check each line (and publish it when given a producer); report refusals by line number."""
    from pipeline.json_events import parse_json_event

    published = rejected = 0
    for number, raw in enumerate(lines, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            rejected += 1
            typer.echo(
                f"line {number}: not UTF-8 (byte {raw[error.start]:#04x} at {error.start + 1})", err=True
            )
            continue
        if not text.strip():
            continue
        try:
            event = parse_json_event(text.rstrip("\r\n"))
            checker.check(event)
            if producer is not None:
                producer.send_event(event)
        except Exception as error:  # every refusal of one line is reported, and the others go on
            rejected += 1
            typer.echo(f"line {number}: {error}", err=True)
            continue
        published += 1
    return published, rejected


class _EventChecker:
    """What a worker would refuse, found before publishing: `to` feeds of the app, and the
    encoded size against the topics' message limit."""

    def __init__(self, manager: Any, settings: Any) -> None:
        from schemas.codec import AvroCodec

        self.manager = manager
        self.limit = settings.message_max_bytes
        self.codec = AvroCodec()

    def check(self, event: Any) -> None:
        from pipeline.events import ActivityEvent
        from pipeline.steps import parse_targets
        from schemas.catalog import ACTIVITY_EVENT, FOLLOW_EVENT

        if isinstance(event, ActivityEvent):
            parse_targets(self.manager, [event.activity])
            size = len(self.codec.encode(ACTIVITY_EVENT, event.to_record()))
        else:
            size = len(self.codec.encode(FOLLOW_EVENT, event.to_record()))
        if size > self.limit:
            raise ValueError(f"encodes to {size:,} bytes, over the topics' limit of {self.limit:,}")


@app.command()
def serve(
    app_path: Annotated[
        str, typer.Option("--app", "-A", help="Your Manager, as module:attribute.")
    ] = "pipeline.default_app:manager",
    kafka: Annotated[
        bool, typer.Option(help="Publish writes to Kafka for the workers (default: apply them inline).")
    ] = False,
    access_log: Annotated[bool, typer.Option(help="Log every request (uvicorn's access log).")] = True,
    workers: Annotated[
        int | None, typer.Option(help="API processes on the port (default STREAMFEED_API_WORKERS).", min=1)
    ] = None,
) -> None:
    """Serve the HTTP API (STREAMFEED_API_*): feeds, publishing, follows, marks; OpenAPI at /docs."""
    import os

    import uvicorn

    from pipeline.api.serve import APP_ENV, KAFKA_ENV, build_app
    from pipeline.settings import get_settings

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
    load_manager(app_path)  # a wrong --app fails here, once, not in every worker
    os.environ[APP_ENV], os.environ[KAFKA_ENV] = app_path, "1" if kafka else "0"
    factory = "pipeline.api.serve:from_environment"
    uvicorn.run(factory, factory=True, workers=workers, log_level="info", **where)


@app.command()
def status(
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Kafka's answers.", min=0.5)] = 10.0,
) -> None:
    """The consumer group (STREAMFEED_APP_ID): its members and their partitions, its lag per
    topic, and how many dead letters are waiting."""
    from confluent_kafka import KafkaException

    from pipeline.settings import get_settings
    from pipeline.status import group_status

    try:
        report = group_status(get_settings(), timeout)
    except KafkaException as error:
        typer.echo(f"error: Kafka: {error.args[0].str()}", err=True)
        raise typer.Exit(1) from None
    for line in report.lines():
        typer.echo(line)


@app.command()
def demo(
    kafka: Annotated[
        bool, typer.Option(help="Run through the real pipeline on the local stack, not inline.")
    ] = False,
    users: Annotated[int, typer.Option(help="Users in the generated world.")] = 30,
    events: Annotated[int, typer.Option(help="Events in the generated world.")] = 300,
    seed: Annotated[int, typer.Option(help="Seed of the generated world.")] = 7,
) -> None:
    """Generate a small Pinterest-like world, run it, and print a few users' feeds."""
    import sys

    from pipeline.demo import run_demo

    raise typer.Exit(run_demo(sys.stdout, kafka, users, events, seed))


def main() -> None:
    from pydantic import ValidationError as SettingsError

    try:
        app()
    except SettingsError as error:  # a STREAMFEED_* variable is wrong: say which, no traceback
        for problem in error.errors(include_url=False):
            name = "STREAMFEED_" + "_".join(str(part) for part in problem["loc"]).upper()
            typer.echo(f"error: {name}: {problem['msg'].removeprefix('Value error, ')}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
