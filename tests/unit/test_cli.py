"""The CLI as a user runs it: help everywhere, produce's dry run, feed show on memory."""

from typer.testing import CliRunner

from streamfeed.cli import app

runner = CliRunner()


def test_every_command_has_help():
    for command in (
        [],
        ["worker"],
        ["demo"],
        ["produce"],
        ["topics", "create"],
        ["topics", "list"],
        ["schema", "sync"],
        ["feed", "show"],
        ["rebuild"],
        ["generations", "list"],
        ["generations", "switch"],
        ["generations", "drop"],
        ["dead-letters", "list"],
        ["dead-letters", "replay"],
    ):
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_produce_dry_run_counts_and_names_rejected_lines(tmp_path):
    source = tmp_path / "events.jsonl"
    source.write_text(
        '{"type": "follow", "follower": "1", "followed": "2"}\n'
        "\n"
        '{"type": "activity", "actor": "2", "verb": "love", "object": "p"}\n'
        '{"type": "activity", "actor": "2", "verb": "pin", "object": "p"}\n'
        "{oops\n"
    )
    result = runner.invoke(app, ["produce", str(source), "--dry-run"])
    assert result.exit_code == 1
    assert "line 4: verb: unknown verb" in result.output
    assert "line 5: not JSON" in result.output
    assert "2 valid, 2 rejected" in result.output


def test_demo_runs_inline_and_prints_feeds():
    result = runner.invoke(app, ["demo", "--users", "12", "--events", "120"])
    assert result.exit_code == 0, result.output
    assert "ran inline on memory storage" in result.output
    for heading in ("normal feed of", "aggregated feed of", "notification feed of"):
        assert heading in result.output
    assert "mark_all(seen=True): 0 unseen" in result.output


def test_feed_show_rejects_unknown_feed():
    result = runner.invoke(app, ["feed", "show", "timeline", "1", "--storage", "memory"])
    assert result.exit_code != 0
    assert "unknown feed 'timeline'" in result.output


def test_generations_on_memory_storage_refuse_unknown_and_live_ones():
    listed = runner.invoke(app, ["generations", "list", "--storage", "memory"])
    assert listed.exit_code == 0 and listed.output.splitlines()[0] == "* default"
    unknown = runner.invoke(app, ["generations", "switch", "nope", "--storage", "memory"])
    assert unknown.exit_code == 2 and "no generation nope" in unknown.output
    live = runner.invoke(app, ["generations", "drop", "default", "--storage", "memory"])
    assert live.exit_code == 2 and "default is live" in live.output
    bad = runner.invoke(app, ["generations", "create", "Bad-Name", "--storage", "memory"])
    assert bad.exit_code == 2 and "lowercase letters" in bad.output


def test_serve_runs_several_processes_only_when_writes_go_through_kafka():
    result = runner.invoke(app, ["serve", "--workers", "2"])
    assert result.exit_code == 2 and "inline writes have one writer" in result.output


PRODUCE_SCHEMA = {
    "type": "object",
    "required": ["published", "valid", "rejected", "dry_run"],
    "additionalProperties": False,
    "properties": {
        "published": {"type": "integer", "minimum": 0},
        "valid": {"type": "integer", "minimum": 0},
        "rejected": {"type": "integer", "minimum": 0},
        "dry_run": {"type": "boolean"},
    },
}

TOPICS_SCHEMA = {
    "type": "object",
    "required": ["topics"],
    "additionalProperties": False,
    "properties": {
        "topics": {
            "type": "array",
            "minItems": 6,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "partitions", "retention_ms", "co_partitioned", "purpose"],
                "properties": {
                    "name": {"type": "string"},
                    "partitions": {"type": "integer", "minimum": 1},
                    "retention_ms": {"type": "integer"},
                    "co_partitioned": {"type": "boolean"},
                    "purpose": {"type": "string"},
                },
            },
        }
    },
}


def test_produce_json_is_one_object_on_stdout_with_the_rejections_on_stderr(tmp_path):
    import json

    from jsonschema import validate

    source = tmp_path / "events.jsonl"
    source.write_text(
        '{"type": "follow", "follower": "1", "followed": "2"}\n'
        '{"type": "activity", "actor": "2", "verb": "pin", "object": "p"}\n'
    )
    result = runner.invoke(app, ["produce", str(source), "--dry-run", "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    validate(report, PRODUCE_SCHEMA)
    assert report == {"published": 0, "valid": 1, "rejected": 1, "dry_run": True}
    assert "line 2: verb: unknown verb" in result.stderr


def test_topics_list_json_names_every_topic_with_its_shape():
    import json

    from jsonschema import validate

    result = runner.invoke(app, ["topics", "list", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    validate(report, TOPICS_SCHEMA)
    names = {topic["name"] for topic in report["topics"]}
    assert {"activities", "follows", "marks", "feed-ops-high", "feed-ops-low", "dead-letters"} <= names


def test_generations_and_storage_report_as_json(monkeypatch):
    import json

    from jsonschema import validate

    monkeypatch.setenv("STREAMFEED_STORAGE", "memory")
    listed = runner.invoke(app, ["generations", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    report = json.loads(listed.stdout)
    validate(
        report,
        {
            "type": "object",
            "required": ["generations", "live"],
            "additionalProperties": False,
            "properties": {
                "live": {"type": "string"},
                "generations": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "live"],
                        "additionalProperties": False,
                        "properties": {"name": {"type": "string"}, "live": {"type": "boolean"}},
                    },
                },
            },
        },
    )
    assert report["live"] in [g["name"] for g in report["generations"] if g["live"]]
    shown = runner.invoke(app, ["storage", "show", "--json"])
    assert shown.exit_code == 1  # a memory storage nobody claimed: no identity
    assert json.loads(shown.stdout) == {"identity": None}


def test_feed_show_ranked_names_a_ranking_the_feed_lacks_and_refuses_aggregated_feeds():
    unknown = runner.invoke(
        app, ["feed", "show", "normal", "1", "--storage", "memory", "--ranking", "trending"]
    )
    assert unknown.exit_code == 2 and "has no ranking 'trending'" in " ".join(unknown.output.split())
    grouped = runner.invoke(
        app, ["feed", "show", "aggregated", "1", "--storage", "memory", "--ranking", "popular"]
    )
    assert grouped.exit_code == 2 and "is not a flat feed" in grouped.output
    empty = runner.invoke(app, ["feed", "show", "normal", "1", "--storage", "memory", "--ranking", "popular"])
    assert empty.exit_code == 0 and "by popular" in empty.output and "(empty)" in empty.output
    shaped = runner.invoke(
        app, ["feed", "show", "normal", "1", "--storage", "memory", "--ranking", "popular", "--json"]
    )
    assert shaped.exit_code == 0 and '"ranking": "popular"' in shaped.output
