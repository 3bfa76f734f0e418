"""ReactionEvent as Avro (issue 30): every event round-trips through the codec, and a record
another service publishes with a bad field is refused with an error naming that field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.exceptions import ValidationError
from streamfeed.domain.reactions import (
    ReactionEvent,
    add_event,
    reaction_identity,
    remove_event,
    update_event,
)
from streamfeed.schemas.catalog import REACTION_EVENT
from streamfeed.schemas.codec import AvroCodec

WHEN = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PIN = Activity("ann", "add", "pin:42", time=WHEN).id


def events() -> list[ReactionEvent]:
    identity = reaction_identity("comment", "bob", PIN, None, WHEN, ("notification:ann",))
    child = reaction_identity("like", "cid", PIN, "c1", WHEN)
    return [
        add_event("c1", identity, {"text": "lovely", "tags": ["a", 1, None]}, WHEN),
        add_event("l1", child, None, WHEN),
        update_event("c1", PIN, {"text": "lovely light"}, WHEN),
        remove_event("c1", PIN, WHEN),
    ]


@pytest.mark.parametrize("event", events(), ids=lambda e: f"{e.op.value}-{e.reaction_id}")
def test_every_event_round_trips_through_avro(event):
    codec = AvroCodec()
    assert (
        ReactionEvent.from_record(
            codec.decode(REACTION_EVENT, codec.encode(REACTION_EVENT, event.to_record()))
        )
        == event
    )


def record(**changes):
    base = events()[0].to_record()
    identity = changes.pop("identity_changes", None)
    if identity is not None:
        base["identity"] = dict(base["identity"], **identity)
    return {**base, **changes}


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (record(op="LIKE"), "op"),
        (record(id="no spaces allowed"), "id"),
        (record(activity_id="pin:42"), "activity_id"),
        (record(version=-1), "version"),
        (record(identity_changes={"kind": "Like!"}), "kind"),
        (record(identity_changes={"user_id": ""}), "user_id"),
        (record(identity_changes={"target_feeds": ["nofeed"]}), "target_feeds"),
        (record(identity_changes={"time": None}), "identity.time"),
        (record(identity=None), "identity"),
        (record(op="UPDATE"), "identity"),
        (record(data={"text": "x" * 20_000}), "data"),
    ],
)
def test_a_bad_record_names_its_field(bad, field):
    with pytest.raises(ValidationError) as error:
        ReactionEvent.from_record(bad)
    assert error.value.field == field


def test_a_reaction_line_becomes_a_record_on_the_reactions_topic_keyed_by_its_activity():
    """`streamfeed produce` takes reaction lines too: the record goes where a worker folds it."""
    import json

    from streamfeed.cli.line_encoding import LineEncoder
    from streamfeed.settings import Settings

    settings = Settings(topic_prefix="app.")
    line = {"type": "reaction", "id": "l1", "activity_id": PIN, "kind": "like", "user_id": "bob"}
    bad = dict(line, kind="Like!")
    chunk = LineEncoder(None, settings, publishing=False).encode(
        1, [json.dumps(x).encode() for x in (line, bad)]
    )
    ((topic, key, value),) = chunk.records
    assert (topic, key) == ("app.reactions", PIN.encode())
    decoded = ReactionEvent.from_record(AvroCodec().decode(REACTION_EVENT, value))
    assert decoded.identity.user_id == "bob" and decoded.identity.kind == "like"
    assert chunk.refusals == [
        (2, "kind: must be 1-64 of a-z, 0-9, _ and -, starting with a letter (got 'Like!')")
    ]
