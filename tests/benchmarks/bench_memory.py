"""Redis memory per feed entry, per activity and per aggregated group: the figures to size Redis.

Run (Redis up): .venv/bin/python -m tests.benchmarks.bench_memory [--users 200] [--per-feed 100]

Builds --users users' flat feeds of --per-feed entries (through the Manager, on
Redis under a private prefix), a notification feed per user, then asks Redis
for MEMORY USAGE of every key and prints bytes per flat-feed entry, per stored
activity and per aggregated group, and the total per user. Cleans up after.
"""

from __future__ import annotations

import argparse
import uuid
from datetime import UTC, datetime, timedelta

import redis

from streamfeed.app.manager import Manager
from streamfeed.domain.activity import Activity
from streamfeed.settings import get_settings
from streamfeed.storage.redis import RedisBackend


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-feed", type=int, default=100)
    args = parser.parse_args()
    prefix = f"bench{uuid.uuid4().hex[:6]}:"
    client = redis.Redis.from_url(get_settings().redis_url)
    manager = Manager(RedisBackend(client, prefix))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    authors = [f"author{n}" for n in range(10)]
    users = [f"user{n:05d}" for n in range(args.users)]
    try:
        for user in users:
            manager.follow_many_users(user, authors)
        for n in range(args.per_feed):
            author = authors[n % len(authors)]
            target = users[n % len(users)]
            activity = Activity(
                author,
                ["love", "add", "comment"][n % 3],
                f"pin:{n}",
                f"board:{n % 7}",
                start + timedelta(minutes=n),
                {"title": f"Pin number {n}"},
                to=[f"notification:{target}"],
            )
            manager.add_user_activity(author, activity)
        sizes = {"feed": 0, "activity": 0, "aggregated": 0, "other": 0}
        feeds = entries = activities = groups = 0
        for key in client.scan_iter(match=f"{prefix}*", count=1000):
            name = key.decode()[len(prefix) :]
            used = client.memory_usage(key, samples=0) or 0
            if name.startswith("feed:"):
                sizes["feed"] += used
                feeds += 1
                entries += client.zcard(key)
            elif name.startswith("activity:"):
                sizes["activity"] += used
                activities += 1
            elif name.startswith(("aggregated:", "notification:")) and name.endswith(":groups"):
                sizes["aggregated"] += used
                groups += client.hlen(key)
            else:
                sizes["other"] += used
        total = sum(sizes.values())
        print(f"{args.users} users, {feeds} flat feeds, {entries} entries, {activities} activities")
        print(f"{groups} aggregated and notification groups")
        print(f"flat feed: {sizes['feed'] / max(entries, 1):.0f} bytes per entry")
        print(f"activity body: {sizes['activity'] / max(activities, 1):.0f} bytes per activity (stored once)")
        print(
            f"aggregated and notification groups: {sizes['aggregated'] / max(groups, 1):.0f} bytes per group"
        )
        print(f"everything: {total / args.users / 1024:.1f} KiB per user ({total / 2**20:.1f} MiB in all)")
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start_index in range(0, len(keys), 500):
            client.delete(*keys[start_index : start_index + 500])


if __name__ == "__main__":
    main()
