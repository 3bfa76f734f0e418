"""What every chaos scenario shares: an orchestrator for workers, a drain that survives outages,
and the comparison of every feed with the inline oracle, as figures.

The supervisor plays the orchestrator (systemd, Kubernetes): it restarts a
worker that exited, whatever its status, as crash-only workers expect.
Outages of the shared stack go through deploy/local/stack and always bring
the server back, also when the scenario fails.
"""

from __future__ import annotations

import random
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamfeed.app.manager import Manager
from streamfeed.consumers.processes import WorkerProcess
from streamfeed.demo.run import run_inline
from streamfeed.demo.snapshot import differences, reaction_snapshot, snapshot
from streamfeed.demo.world import World
from streamfeed.domain.reactions import ReactionEvent
from streamfeed.kafka.lag import group_lag
from streamfeed.ops.teardown import remove_run
from streamfeed.settings import Settings
from streamfeed.storage.registry import create_generational_backend
from tests.e2e.conftest import isolated_settings

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "deploy" / "local" / "stack"
LOG_DIR = ROOT / ".e2e-logs" / "chaos"


@dataclass
class Figures:
    """What a scenario prints: the guarantee in numbers."""

    scenario: str
    events: int = 0
    expected: int = 0
    found: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    differing_feeds: int = 0
    #: Live reactions the oracle counts, those counted here, and the differences either way.
    reactions: int = 0
    reactions_counted: int = 0
    reactions_lost: int = 0
    reactions_double_counted: int = 0
    #: Activities whose reaction lists (ids, order, data) differ from the oracle's.
    reactions_differing: int = 0
    dead_letters: int = 0
    restarts: int = 0
    converge_seconds: float = 0.0
    notes: dict[str, Any] = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)

    def line(self) -> str:
        extra = "".join(f", {key} {value}" for key, value in self.notes.items())
        if self.reactions:
            extra = (
                f", reactions expected {self.reactions}, counted {self.reactions_counted}, "
                f"lost {self.reactions_lost}, double counted {self.reactions_double_counted}, "
                f"activities with differing reactions {self.reactions_differing}{extra}"
            )
        return (
            f"{self.scenario}: events {self.events}, entries expected {self.expected}, found {self.found}, "
            f"lost {self.lost}, duplicated {self.duplicated}, unexpected {self.unexpected}, "
            f"differing feeds {self.differing_feeds}, dead letters {self.dead_letters}, "
            f"worker restarts {self.restarts}, converged in {self.converge_seconds:.1f}s{extra}"
        )

    def assert_clean(self) -> None:
        clean = (0, 0, 0, 0, 0, 0, 0)
        if self._faults() != clean:
            # Kept beside the workers' logs: a failure seen once is worth its details.
            LOG_DIR.mkdir(parents=True, exist_ok=True)
            slug = "".join(c if c.isalnum() else "-" for c in self.scenario.lower())
            path = LOG_DIR / f"{slug}-{time.strftime('%H%M%S')}-differences.txt"
            path.write_text(self.line() + "\n" + "\n".join(self.differences) + "\n")
        assert self._faults() == clean, self.line() + "\n" + "\n".join(self.differences)

    def _faults(self) -> tuple[int, ...]:
        return (
            self.lost,
            self.duplicated,
            self.unexpected,
            self.differing_feeds,
            self.reactions_lost,
            self.reactions_double_counted,
            self.reactions_differing,
        )


def chaos_settings(storage: str, partitions: int = 6, **overrides: Any) -> Settings:
    """An isolated run: its own topics, group, Redis keys and keyspace."""
    return isolated_settings(storage, partitions, label="chaos", **{"stats_interval": 5.0, **overrides})


class Supervisor:
    """Keeps `count` workers of one group running, restarting any that exits; counts the restarts."""

    def __init__(self, settings: Settings, name: str, count: int, app: str | None = None) -> None:
        self.settings = settings
        self.name = name
        self.app = app
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.workers = [self._start(n) for n in range(count)]
        self._lock = threading.Lock()  # the publisher's drains and the scenario both poll
        self.restarts = 0
        self.exit_codes: Counter[int] = Counter()

    def _start(self, slot: int) -> WorkerProcess:
        slug = "".join(c if c.isalnum() else "-" for c in self.name.lower())
        log = LOG_DIR / f"{slug}-{self.settings.app_id}-{slot}.log"
        return WorkerProcess(self._slot_settings(slot), log, self.app).start()

    def _slot_settings(self, slot: int) -> Settings:
        """With static membership, each slot keeps its name across restarts, as a pod does."""
        if self.settings.worker_instance_id is None:
            return self.settings
        return self.settings.model_copy(
            update={"worker_instance_id": f"{self.settings.worker_instance_id}-{slot}"}
        )

    def poll(self) -> None:
        """Restart every worker that exited (crash-only: the orchestrator's job)."""
        with self._lock:
            for slot, worker in enumerate(self.workers):
                if not worker.running:
                    self.exit_codes[worker.process.returncode] += 1
                    self.restarts += 1
                    restarted = WorkerProcess(self._slot_settings(slot), worker.log_path, self.app)
                    self.workers[slot] = restarted.start()

    def hold(self, seconds: float) -> None:
        """Keep the workers running (restarting those that exit) for that long."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.poll()
            time.sleep(0.5)

    def kill(self, rng: random.Random) -> None:
        """SIGKILL one worker, as a machine that lost power."""
        with self._lock:
            rng.choice(self.workers).kill()

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop(timeout=20)

    def tails(self) -> str:
        return "\n".join(worker.log_tail(15) for worker in self.workers)


def lag_or_none(settings: Settings) -> int | None:
    """The group's lag, or None while it cannot be read (Kafka away, nothing committed yet)."""
    try:
        return group_lag(settings)
    except Exception:  # an outage of the broker itself: keep waiting
        return None


def drain(settings: Settings, supervisor: Supervisor, timeout: float, restart: bool = True) -> float:
    """Wait until the group committed everything, restarting workers meanwhile; returns seconds.

    Only the main thread restarts (restart=False elsewhere): a worker's
    parent-death signal fires when the thread that started it ends.
    """
    start = time.monotonic()
    clean = 0
    while clean < 2:
        if restart:
            supervisor.poll()
        lag = lag_or_none(settings)
        clean = clean + 1 if lag == 0 else 0
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"not drained after {timeout:.0f}s (lag {lag})\n{supervisor.tails()}")
        time.sleep(0.5)
    return time.monotonic() - start


def reader(settings: Settings) -> Manager:
    """A Manager on the storage the workers wrote: the live generation, as the API reads."""
    return Manager(create_generational_backend(settings.storage, settings))


def _without(feeds: dict[Any, Any], ignored: frozenset[str]) -> dict[Any, Any]:
    """Snapshots with the ignored activity ids taken out (and groups left empty by it)."""
    kept: dict[Any, Any] = {}
    for key, value in feeds.items():
        if isinstance(value, list):
            kept[key] = [i for i in value if i not in ignored]
        else:
            groups, counts = value
            trimmed = [(g[0], [i for i in g[1] if i not in ignored], *g[2:]) for g in groups]
            kept[key] = ([g for g in trimmed if g[1]], counts)
    return kept


def _entries(value: Any) -> list[str]:
    """Activity ids held by one feed's snapshot: flat ids, or every group's ids."""
    if isinstance(value, list):
        return list(value)
    groups, _counts = value
    return [activity_id for group in groups for activity_id in group[1]]


def compare(
    world: World, manager: Manager, figures: Figures, ignored: frozenset[str] = frozenset()
) -> Figures:
    """Fill figures from every feed of every user against the inline oracle. ignored: activity
    ids outside the world (poison records, partly applied before they failed) left out."""
    oracle = run_inline(world)
    expected = snapshot(oracle, world.users)
    actual = _without(snapshot(manager, world.users), ignored) if ignored else snapshot(manager, world.users)
    figures.events = len(world.events)
    for key in expected.keys() | actual.keys():
        want = Counter(_entries(expected[key])) if key in expected else Counter()
        got = Counter(_entries(actual[key])) if key in actual else Counter()
        figures.expected += sum(want.values())
        figures.found += sum(got.values())
        figures.lost += sum((want - got).values())
        figures.duplicated += sum(count - 1 for count in got.values() if count > 1)
        figures.unexpected += sum(1 for activity_id in got if activity_id not in want)
    figures.differences = differences(expected, actual)
    figures.differing_feeds = sum(1 for key in expected if expected[key] != actual.get(key))
    reacted = {event.activity_id for event in world.events if isinstance(event, ReactionEvent)}
    if reacted:
        _compare_reactions(reaction_snapshot(oracle, reacted), reaction_snapshot(manager, reacted), figures)
    return figures


def _compare_reactions(expected: dict[str, Any], actual: dict[str, Any], figures: Figures) -> None:
    """Counts and lists of every activity's reactions against the oracle's: a reaction missing
    from a count is lost, one counted more than the oracle does is double counted."""
    for activity_id, (want_counts, want_lists) in expected.items():
        got_counts, got_lists = actual[activity_id]
        for kind in want_counts.keys() | got_counts.keys():
            want, got = want_counts.get(kind, 0), got_counts.get(kind, 0)
            figures.reactions += want
            figures.reactions_counted += got
            figures.reactions_lost += max(0, want - got)
            figures.reactions_double_counted += max(0, got - want)
        if (want_counts, want_lists) != (got_counts, got_lists):
            figures.reactions_differing += 1
            figures.differences.append(
                f"reactions of {activity_id}: expected {(want_counts, want_lists)!r}, "
                f"got {(got_counts, got_lists)!r}"
            )


def publish_world(
    settings: Settings, world: World, pace: float = 0.0, between_phases: Callable[[], None] | None = None
) -> int:
    """Publish every event of the world, republishing the bytes of any the broker did not acknowledge.

    Phases are published in turn, calling between_phases (a drain) between
    them: the world's phases are where the oracle's order matters (see
    streamfeed.demo.world), e.g. an unfollow after the deliveries it must take out
    of a trimmed feed. Returns how many records were republished. The same bytes carry the same
    version, so a republished record that did arrive after all changes
    nothing. `pace` seconds between events spreads the run over time, so
    disruptions hit it mid-way.
    """
    from streamfeed.kafka.producer import StreamfeedProducer

    failed: list[tuple[str, bytes | None, bytes | None]] = []

    def delivered(error, message) -> None:
        if error is not None:
            failed.append((message.topic(), message.key(), message.value()))

    producer = StreamfeedProducer(settings, on_delivery=delivered, config={"message.timeout.ms": 15_000})
    republished = 0
    for number, phase in enumerate(world.phases):
        if number and between_phases is not None:
            between_phases()
        for event in phase:
            producer.send_event(event)
            if pace:
                time.sleep(pace)
        while True:
            producer.flush(timeout=120)
            if not failed:
                break
            retry, failed[:] = list(failed), []
            republished += len(retry)
            time.sleep(1)
            for topic, key, value in retry:
                producer.send_raw(topic, key, value)
    return republished


@contextmanager
def outage(service: str) -> Iterator[None]:
    """A server of the shared stack stopped for the body's duration: always brought back."""
    subprocess.run([str(STACK), "down", service], check=True, capture_output=True)
    try:
        yield
    finally:
        subprocess.run([str(STACK), "up", service], check=True, capture_output=True)


def cleanup(settings: Settings) -> None:
    # Best effort: a stack mid-outage must not hide the scenario's result.
    with suppress(Exception):
        remove_run(settings)


class StallWatch:
    """How long each partition stood still with work waiting: from the moment its committed
    offset last moved (or work arrived) while its high-water mark was ahead, sampled every
    `every` seconds from a consumer that never joins the group. After a SIGKILL this is what
    the group's handover costs the users of the dead worker's partitions."""

    def __init__(self, settings: Settings, every: float = 0.25) -> None:
        from confluent_kafka import Consumer, TopicPartition

        from streamfeed.kafka.topics import TopicNames

        self.every = every
        self.partitions = [
            TopicPartition(topic, p)
            for topic in TopicNames.from_settings(settings).consumed
            for p in range(settings.partitions)
        ]
        self.consumer = Consumer(
            {
                "bootstrap.servers": settings.kafka_bootstrap,
                "group.id": settings.app_id,  # never subscribes: reads the group's offsets only
                "enable.auto.commit": False,
                "log_level": 2,
            }
        )
        self.longest: dict[tuple[str, int], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StallWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
        self.consumer.close()

    def _run(self) -> None:
        last: dict[tuple[str, int], int] = {}
        since: dict[tuple[str, int], float] = {}
        while not self._stop.wait(self.every):
            try:
                committed = self.consumer.committed(self.partitions, timeout=5)
                now = time.monotonic()
                for tp in committed:
                    key = (tp.topic, tp.partition)
                    high = self.consumer.get_watermark_offsets(tp, timeout=5, cached=False)[1]
                    done = max(tp.offset, 0)
                    if done >= high or last.get(key) != done:
                        since[key] = now  # caught up, or moved: not standing still
                    last[key] = done
                    self.longest[key] = max(self.longest.get(key, 0.0), now - since.setdefault(key, now))
            except Exception:  # Kafka busy or away for a moment: sample again
                continue

    def worst(self) -> float:
        return max(self.longest.values(), default=0.0)
