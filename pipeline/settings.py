"""Settings for every part of streamfeed, read from STREAMFEED_* environment variables.

One place, so a worker, the CLI, the demo and the tests agree on where the
servers are and how the topics are shaped. Defaults match deploy/local/stack,
so a developer with the local stack up needs to set nothing.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Shortest accepted JWT signing key or service key: HS256 is as strong as its key.
MIN_SECRET_BYTES = 32
_KEYSPACE = re.compile(r"[a-z][a-z0-9_]{0,47}")


def check_keyspace_name(value: str) -> str:
    """A keyspace name streamfeed may create and quote nowhere: refused in one line before any
    server call (a bad one was a raw SyntaxException from the server)."""
    if not _KEYSPACE.fullmatch(value):
        raise ValueError(
            f"keyspace {value!r}: use 1-48 lower-case letters, digits or _, starting with a letter "
            "(Cassandra folds unquoted names to lower case and refuses longer ones)"
        )
    return value


_REDIS_PREFIX = re.compile(r"[^\s{}]{0,100}")
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9._-]{0,200}")
_APP_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")
_CONSISTENCY_LEVELS = {
    "ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "SERIAL",
    "LOCAL_SERIAL", "LOCAL_ONE",
}  # fmt: skip


class Settings(BaseSettings):
    """Connection and topology settings; each field is STREAMFEED_<NAME> in the environment."""

    model_config = SettingsConfigDict(env_prefix="STREAMFEED_", env_file=None, extra="ignore")

    kafka_bootstrap: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    schema_registry_url: str | None = Field(
        None,
        description="Confluent Schema Registry URL; unset means Avro single-object encoding",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis server for storage")
    redis_prefix: str = Field("sf:", description="Prefix of every Redis key streamfeed writes")
    redis_servers: dict[str, str] = Field(
        default_factory=dict,
        description="More Redis servers by name, as JSON; a feed with backend_name 'redis:NAME' "
        "uses server NAME (Stream Framework's STREAM_REDIS_CONFIG)",
    )
    redis_wait_replicas: int = Field(
        0,
        ge=0,
        description="Replicas that must hold a worker's writes before it commits their offsets "
        "(Redis WAIT): with 1, a failover to a replica loses no acknowledged write; 0 does not wait",
    )
    redis_wait_timeout: float = Field(
        1.0,
        gt=0,
        description="Seconds a worker waits for those replicas before it retries (a transient "
        "fault: the batch is neither committed nor dead-lettered)",
    )
    cassandra_hosts: list[str] = Field(["127.0.0.1"], description="Cassandra contact points")
    cassandra_port: int = Field(9042, description="Cassandra native protocol port")
    cassandra_keyspace: str = Field("streamfeed", description="Keyspace of feed tables")
    cassandra_consistency: str = Field("LOCAL_QUORUM", description="Read and write consistency")
    cassandra_replication_factor: int = Field(
        1,
        ge=1,
        description="Replicas of each row in a keyspace streamfeed creates; existing ones keep theirs",
    )
    counts_redis_url: str | None = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis for publishing notification counts when storage is not Redis; "
        "empty disables publishing",
    )
    storage: Literal["memory", "redis", "cassandra"] = Field(
        "memory", description="Storage backend for inline mode and workers"
    )
    generation: str | None = Field(
        None,
        description="Pin storage to this generation instead of following the live one "
        "(a rebuild's workers); '' is the default generation",
    )
    app_id: str = Field("streamfeed", description="Consumer group and Faust app id")
    topic_prefix: str = Field("", description="Prefix of every topic name, e.g. 'staging.'")
    internal_topic_prefix: str | None = Field(
        None,
        description="Prefix of the feed-ops and dead-letter topics if not topic_prefix: a rebuild "
        "has its own",
    )
    partitions: int = Field(8, ge=1, description="Partitions of every streamfeed topic")
    max_targets: int = Field(
        500,
        ge=0,
        le=100_000,
        description="Most `to` targets one activity may name; bigger audiences are what follows and "
        "the fanout are for (each target costs a feed write)",
    )
    replication_factor: int = Field(1, ge=1, description="Replicas of every streamfeed topic")
    pull_threshold: int | None = Field(
        None,
        ge=1,
        description="Followers from which an author is pulled (hybrid push/pull) unless the app's "
        "Manager sets its own; unset: authors are pulled only when switched by hand",
    )
    history_retention_ms: int = Field(
        -1, description="Retention of activities and follows; -1 keeps them to rebuild by replay"
    )
    feed_ops_retention_ms: int = Field(7 * 86_400_000, description="Retention of feed-ops")
    dead_letter_retention_ms: int = Field(30 * 86_400_000, description="Retention of dead letters")
    worker_batch_size: int = Field(500, ge=1, description="Events an agent takes per storage batch")
    worker_batch_wait: float = Field(
        0.01, ge=0, description="Seconds an agent waits to fill a batch: latency against batching"
    )
    worker_session_timeout: float = Field(
        10.0, gt=0, description="Seconds before the group gives a silent worker's partitions to others"
    )
    worker_retry_deadline: float = Field(
        8.0,
        gt=0,
        description="Seconds a worker retries unavailable storage before it exits and lets its "
        "partitions move; kept below worker_session_timeout so no stale writer survives a rebalance",
    )
    worker_instance_id: str | None = Field(
        None,
        description="Kafka static membership: a name this worker keeps across restarts (a "
        "StatefulSet pod's name). A restarted worker takes its partitions back at once instead of "
        "after worker_session_timeout; a worker gone for good holds them that long, also on a "
        "clean stop. Unset: dynamic membership",
    )
    worker_poison_attempts: int = Field(
        3,
        ge=1,
        description="Times a record whose processing fails with an unexpected error is tried "
        "(counted in storage, so across restarts too) before it becomes a dead letter",
    )
    worker_poison_streak: int = Field(
        100,
        ge=0,
        description="Records in a row (of one agent, across batches) that may fail that way "
        "before the worker calls it a bug, not bad records, and exits instead of dead-lettering "
        "everything; 0: never",
    )
    auto_rebuild: bool = Field(
        False,
        description="When a worker finds its storage lost its data (a Redis restarted empty, a "
        "dropped keyspace), one worker of the group rebuilds every feed from the topics into a new "
        "generation and switches to it; the workers then restart onto it (exit 75). Off: they wait "
        "for an operator's `rebuild --switch` or `storage claim`",
    )
    worker_data_dir: str = Field(
        "",
        description="Directory for the Faust app's local state; empty means a per-process "
        "temporary directory (workers keep no state of their own)",
    )
    stats_interval: float = Field(10.0, description="Seconds between worker throughput log lines")
    metrics_port: int | None = Field(
        None,
        ge=0,
        le=65_535,
        description="Port of a worker's /metrics (Prometheus), /healthz and /readyz; unset: none",
    )
    metrics_host: str = Field("127.0.0.1", description="Address the metrics port binds (0.0.0.0 in a pod)")
    api_host: str = Field("127.0.0.1", description="Address `streamfeed serve` binds")
    api_port: int = Field(8000, ge=1, le=65_535, description="Port of `streamfeed serve`")
    api_workers: int = Field(1, ge=1, le=64, description="Processes `streamfeed serve` runs on its port")
    api_jwt_key: str | None = Field(
        None,
        description="HS256 key of user tokens (the `sub` is the user id), at least 32 bytes; unset: no "
        "user tokens",
    )
    api_jwt_issuer: str | None = Field(None, description="If set, user tokens must carry this `iss`")
    api_jwt_audience: str | None = Field(None, description="If set, user tokens must carry this `aud`")
    api_token_max_seconds: int = Field(
        86_400, ge=60, description="Longest lifetime a user token may have (`exp` at most this far ahead)"
    )
    api_service_key: str | None = Field(
        None, description="Key of services (X-Service-Key header) that may publish for any actor"
    )
    api_cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS")
    api_rate_user: float = Field(50.0, gt=0, description="Requests a second each user token may make")
    api_rate_user_burst: int = Field(200, ge=1, description="Requests a user token may make at once")
    api_rate_service: float = Field(2_000.0, gt=0, description="Requests a second with the service key")
    api_rate_service_burst: int = Field(5_000, ge=1, description="Requests at once with the service key")
    api_rate_failed: float = Field(
        2.0, gt=0, description="Failed sign-ins a second from one client address (then 429)"
    )
    api_docs: bool = Field(True, description="Serve /docs and /openapi.json (turn off if the API is public)")
    api_realtime_per_user: int = Field(
        10, ge=1, description="Realtime streams one user may hold open on one API process (429 beyond)"
    )
    api_realtime_max: int = Field(
        10_000, ge=1, description="Realtime streams one API process holds open at most (429 beyond)"
    )
    api_decode_cache: int = Field(
        20_000,
        ge=0,
        description="Activities each API process keeps decoded (by their stored bytes) for the pages "
        "that show them again; 0 decodes every read",
    )
    api_demo_page: bool = Field(
        False,
        description="Serve a demo feed page at / whose sign-in gives anyone a token: never in production",
    )
    feed_ops_max_bytes: int = Field(
        900_000,
        ge=10_000,
        description="Largest encoded feed-ops message; bigger batches are split. Kept below the "
        "topics' max.message.bytes and the producers' max.request.size (message_max_bytes)",
    )
    message_max_bytes: int = Field(
        1_048_576,
        ge=10_000,
        description="max.message.bytes of every topic and max.request.size of every producer",
    )
    worker_linger: float = Field(
        0.005,
        ge=0,
        le=1,
        description="Seconds a worker's producer waits to fill a feed-ops batch: fewer, bigger produce "
        "requests (a third of Kafka's CPU per insert at 1,000 followers) for that much latency",
    )
    removed_ttl: int = Field(
        8 * 86_400,
        ge=1,
        description="Seconds a removed activity's state is kept: the longest delivery lag the pipeline "
        "tolerates (default: feed-ops retention plus a day)",
    )
    max_extra_context_bytes: int = Field(
        16_384, description="Largest encoded extra_context an activity may carry"
    )

    @field_validator("api_jwt_key", "api_service_key")
    @classmethod
    def _check_secret(cls, value: str | None) -> str | None:
        if value is not None and len(value.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"must be at least {MIN_SECRET_BYTES} bytes (a random key: openssl rand -hex 32)"
            )
        return value

    @field_validator("cassandra_keyspace")
    @classmethod
    def _check_keyspace(cls, value: str) -> str:
        return check_keyspace_name(value)

    @field_validator("cassandra_consistency")
    @classmethod
    def _check_consistency(cls, value: str) -> str:
        if value.upper() not in _CONSISTENCY_LEVELS:
            raise ValueError(f"{value!r}: one of {', '.join(sorted(_CONSISTENCY_LEVELS))}")
        return value.upper()

    @field_validator("redis_prefix")
    @classmethod
    def _check_redis_prefix(cls, value: str) -> str:
        if not _REDIS_PREFIX.fullmatch(value):
            raise ValueError(
                f"{value!r}: at most 100 characters, no spaces and no braces (braces are "
                "Redis Cluster hash tags, which streamfeed sets itself)"
            )
        return value

    @field_validator("topic_prefix", "internal_topic_prefix")
    @classmethod
    def _check_topic_prefix(cls, value: str | None) -> str | None:
        if value is not None and not _TOPIC_PREFIX.fullmatch(value):
            raise ValueError(f"{value!r}: at most 200 of A-Z a-z 0-9 . _ - (Kafka's topic name rule)")
        return value

    @field_validator("app_id")
    @classmethod
    def _check_app_id(cls, value: str) -> str:
        if not _APP_ID.fullmatch(value):
            raise ValueError(f"{value!r}: 1-200 of A-Z a-z 0-9 . _ - (it names the group and its topics)")
        return value

    @model_validator(mode="after")
    def _check_limits(self) -> Settings:
        if self.worker_retry_deadline >= self.worker_session_timeout:
            raise ValueError(
                f"worker_retry_deadline ({self.worker_retry_deadline}s) must be below "
                f"worker_session_timeout ({self.worker_session_timeout}s): a worker still retrying "
                "after the group moved its partitions would be a second writer"
            )
        if self.feed_ops_max_bytes >= self.message_max_bytes:
            raise ValueError(
                f"feed_ops_max_bytes ({self.feed_ops_max_bytes}) must be below message_max_bytes "
                f"({self.message_max_bytes}): the broker would refuse the largest feed-ops message"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
