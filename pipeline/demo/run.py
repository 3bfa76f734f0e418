"""`streamfeed demo`: a generated Pinterest-like world, run and shown.

By default it runs inline on memory storage: no servers, a minute to try.
With --kafka it runs the same world through the real pipeline on the local
stack (topics, a worker process, Redis) and checks that every feed of every
user comes out exactly as inline mode computes it.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

from streamfeed.app.manager import Manager
from streamfeed.consumers.processes import WorkerProcess, wait_until_drained
from streamfeed.demo.snapshot import differences, snapshot
from streamfeed.demo.world import World, generate_world
from streamfeed.domain.author_modes import AuthorModeEvent
from streamfeed.domain.events import ActivityEvent
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.feeds.aggregated import NotificationFeed
from streamfeed.kafka.producer import StreamfeedProducer
from streamfeed.kafka.topics import create_topics
from streamfeed.ops.teardown import remove_run
from streamfeed.render import render_feed
from streamfeed.settings import Settings, get_settings
from streamfeed.storage.base import Backend
from streamfeed.storage.memory import MemoryBackend
from streamfeed.storage.redis import RedisBackend


def run_inline(
    world: World, backend: Backend | None = None, manager_class: type[Manager] = Manager
) -> Manager:
    """Apply the world's events in process, phase by phase, as the Manager's inline driver does."""
    manager = manager_class(backend or MemoryBackend())
    for phase in world.phases:
        for event in phase:
            if isinstance(event, ActivityEvent):
                manager.driver.activity(event)
            elif isinstance(event, AuthorModeEvent):
                manager.driver.author_mode(event)
            elif isinstance(event, ReactionEvent):
                manager.driver.reaction(event)
            else:
                manager.driver.follow(event)
    return manager


def kafka_settings(base: Settings | None = None, partitions: int = 4) -> Settings:
    """Settings for a run isolated from every other: its own topics, group and Redis keys."""
    run = f"demo{uuid.uuid4().hex[:8]}"
    return (base or get_settings()).model_copy(
        update={
            "topic_prefix": f"{run}.",
            "app_id": run,
            "redis_prefix": f"{run}:",
            "storage": "redis",
            "partitions": partitions,
            "stats_interval": 5.0,
        }
    )


def publish_phases(world: World, settings: Settings, workers: list[Any]) -> None:

    producer = StreamfeedProducer(settings)
    for phase in world.phases:
        for event in phase:
            producer.send_event(event)
        producer.flush()
        wait_until_drained(settings, workers=workers)


def run_kafka(world: World, settings: Settings, log_dir: Path) -> Manager:
    """Run the world through topics and one worker on the local stack; returns a Redis manager."""

    create_topics(settings)
    worker = WorkerProcess(settings, log_dir / "worker.log").start()
    try:
        publish_phases(world, settings, [worker])
    finally:
        worker.stop()
    return Manager(RedisBackend.from_url(settings.redis_url, prefix=settings.redis_prefix))


def show(manager: Manager, world: World, out: TextIO) -> None:
    """A few users' feeds, readably: the most followed, and the most following."""
    follows = manager.backend.follows
    star = max(world.users, key=lambda u: (len(follows.followers(u)), u))
    fan = max(world.users, key=lambda u: (len(follows.following(u)), u))
    stars, fans = len(follows.followers(star)), len(follows.following(fan))
    out.write(f"\n{star} has {stars} followers; {fan} follows {fans} users\n")
    for user, name, limit in (
        (fan, "normal", 8),
        (fan, "aggregated", 5),
        (star, "notification", 6),
    ):
        feed = manager.get_feed(name, user)
        out.write(f"\n{name} feed of {user}\n")
        out.write(render_feed(feed, feed[:limit]) + "\n")
    notifications = manager.get_feed("notification", star)
    assert isinstance(notifications, NotificationFeed)  # the default app's extra feed
    out.write(f"\n{star}: {_counts(notifications)}\n")
    notifications.mark_all(seen=True)
    out.write(f"{star} opens the notification menu, mark_all(seen=True): {_counts(notifications)}\n")


def _counts(feed: NotificationFeed) -> str:
    return f"{feed.count_unseen()} unseen, {feed.count_unread()} unread notifications"


def run_demo(out: TextIO, kafka: bool = False, users: int = 30, events: int = 300, seed: int = 7) -> int:
    world = generate_world(users, events, seed)
    activities = world.count(ActivityEvent)
    out.write(
        f"world: {len(world.users)} users, {len(world.events)} events "
        f"({activities} activities, {len(world.events) - activities} follows)\n"
    )
    started = time.monotonic()
    inline = run_inline(world)
    if not kafka:
        out.write(f"ran inline on memory storage in {time.monotonic() - started:.2f}s\n")
        show(inline, world, out)
        return 0
    settings = kafka_settings()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="streamfeed-demo-") as logs:
        piped = run_kafka(world, settings, Path(logs))
    elapsed = time.monotonic() - started
    out.write(f"ran through Kafka (topics {settings.topic_prefix}*) into Redis in {elapsed:.1f}s\n")
    # Compare before showing: show() marks a notification feed seen.
    diff = differences(snapshot(inline, world.users), snapshot(piped, world.users))
    show(piped, world, out)

    remove_run(settings)
    if diff:
        out.write("\nfeeds differ from inline mode:\n" + "\n".join(diff) + "\n")
        return 1
    out.write(f"\nevery feed of all {len(world.users)} users is identical to inline mode\n")
    return 0
