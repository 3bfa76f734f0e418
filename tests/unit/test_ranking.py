"""Rankings: each decay and term, the expression checks (a bad part is named), and the order."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from streamfeed.domain.activity import Activity
from streamfeed.domain.ranking import (
    Ranking,
    RankingError,
    RankingInputs,
    compile_expression,
    decay_exp,
    decay_gauss,
    decay_linear,
    ranking_from_config,
    score_all,
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def activity(n: int, actor: str = "ann", **context) -> Activity:
    return Activity(actor, "add", f"pin:{n}", "board:1", T0 + timedelta(hours=n), extra_context=context)


@pytest.mark.parametrize("decay", [decay_linear, decay_exp, decay_gauss])
def test_each_decay_is_1_up_to_the_offset_and_the_decay_at_offset_plus_scale(decay) -> None:
    assert decay(0, 3600) == 1.0
    assert decay(500, 3600, offset=600) == 1.0
    assert math.isclose(decay(4200, 3600, offset=600), 0.5)
    assert math.isclose(decay(3600, 3600, decay=0.25), 0.25)
    assert decay(7200, 3600) < decay(3600, 3600) < decay(1800, 3600) < 1.0
    assert decay(-3600, 3600) == decay(3600, 3600)  # distance either way


def test_the_decays_differ_in_shape_past_the_scale() -> None:
    assert decay_linear(7200, 3600) == 0.0  # a straight line reaches 0 at twice the scale for 0.5
    assert math.isclose(decay_exp(7200, 3600), 0.25)  # squared
    assert math.isclose(decay_gauss(7200, 3600), 0.0625)  # to the fourth


@pytest.mark.parametrize(
    ("scale", "decay", "named"), [(0, 0.5, "scale must be above 0"), (10, 1.0, "between 0 and 1")]
)
def test_a_decay_with_an_impossible_scale_or_decay_is_refused(scale, decay, named) -> None:
    with pytest.raises(RankingError, match=named):
        decay_exp(1, scale, 0, decay)
    with pytest.raises(RankingError, match=named):
        compile_expression(f"decay_exp(age, {scale}, 0, {decay})")


def test_each_term_reads_its_input() -> None:
    inputs = RankingInputs(activity(1, boost=2.5, label="x"), age=7200, reactions={"like": 3}, affinity=0.4)
    cases = {
        "age": 7200,
        "reactions.like": 3,
        "reactions.comment": 0,
        "affinity": 0.4,
        "fields.boost": 2.5,
        "fields.label": 0,  # not a number
        "fields.missing": 0,
        "log1p(reactions.like)": math.log1p(3),
        "sqrt(4) + abs(-1) + min(2, 3) + max(2, 3)": 2 + 1 + 2 + 3,
        "2 ** 3 - 10 / 4 * -1": 8 + 2.5,
        "1 / 0": 0,  # no exception at read time: a division by zero scores 0
    }
    for text, expected in cases.items():
        score, _ = compile_expression(text)
        assert math.isclose(score(inputs), expected), text


def test_an_expression_says_what_it_reads() -> None:
    _, needs = compile_expression(
        "decay_exp(age, 3600) * log1p(reactions.like + reactions.comment) + affinity"
    )
    assert needs.reactions == {"like", "comment"} and needs.affinity
    _, needs = compile_expression("decay_exp(age, 3600)")
    assert not needs.reactions and not needs.affinity


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("likes * 2", "unknown name"),
        ("__import__('os')", "unknown function"),
        ("reactions.like.count", "only reactions.<kind> and fields.<name> have parts"),
        ("age if age else 1", "not allowed in a ranking"),
        ("'a' + 1", "only numbers"),
        ("decay_exp(age)", "takes 2 to 4 arguments"),
        ("age +", "not a formula"),
        ("", "non-empty"),
        ("log1p(x=1)", "not allowed"),
        ("[age]", "not allowed"),
        ("age < 3", "not allowed"),
    ],
)
def test_a_bad_expression_is_refused_naming_the_bad_part(text, named) -> None:
    with pytest.raises(RankingError, match=named):
        compile_expression(text)


def test_rankings_from_python_and_from_configuration() -> None:
    by_likes = Ranking("likes", lambda inputs: inputs.reactions.get("like", 0), reactions=frozenset({"like"}))
    assert by_likes.needs.reactions == {"like"}
    assert ranking_from_config("fresh", {"score": "decay_exp(age, 60)"}).needs.reactions == frozenset()
    with pytest.raises(RankingError, match="unknown keys"):
        ranking_from_config("fresh", {"score": "age", "weights": 1})
    with pytest.raises(RankingError, match="identifier"):
        Ranking("not a name", "age")


def test_age_counts_from_the_newest_candidate_and_ties_go_to_the_newest() -> None:
    older, newer, newest = activity(1), activity(2), activity(3)
    candidates, bodies = [older.id, newest.id, newer.id], by_id(older, newest, newer)
    ranked = score_all(Ranking("fresh", "decay_exp(age, 3600)"), candidates, bodies)
    assert [a for _, _, a in ranked] == [newest, newer, older]
    assert ranked[0][0] == 1.0 and math.isclose(ranked[1][0], 0.5)
    flat = score_all(Ranking("flat", "1"), candidates)  # no bodies: ids alone
    assert [i for _, i, _ in flat] == [newest.id, newer.id, older.id]  # equal scores: newest id first


def test_engagement_can_outrank_recency() -> None:
    quiet, popular = activity(3), activity(1)
    ranking = Ranking("popular", "decay_exp(age, 7200) * (1 + log1p(reactions.like))")
    ranked = score_all(ranking, [quiet.id, popular.id], by_id(quiet, popular), {popular.id: {"like": 50}})
    assert [a for _, _, a in ranked] == [popular, quiet]


def test_a_feed_class_with_a_bad_ranking_is_refused_when_defined_naming_class_and_attribute() -> None:
    from streamfeed.feeds.flat import Feed

    with pytest.raises(RankingError, match=r"BadFeed\.rankings\['hot'\]: .*unknown name.*'likes'"):

        class BadFeed(Feed):
            rankings: ClassVar[dict] = {"hot": "likes * 2"}

    with pytest.raises(RankingError, match=r"Wide\.ranking_window must be an int from 1 to 5000"):

        class Wide(Feed):
            ranking_window = 10**6

    class Fine(Feed):
        rankings: ClassVar[dict] = {"hot": {"score": "reactions.like"}}

    assert Fine.rankings["hot"].needs.reactions == {"like"}


def by_id(*activities: Activity) -> dict[str, Activity]:
    return {a.id: a for a in activities}


def test_a_decay_whose_scale_comes_from_data_scores_0_when_impossible_instead_of_failing_the_page() -> None:
    score, _ = compile_expression("decay_exp(age, fields.scale)")
    assert score(RankingInputs(activity(1, scale=0), age=10)) == 0.0
    assert math.isclose(score(RankingInputs(activity(1, scale=10), age=10)), 0.5)
