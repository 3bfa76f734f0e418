import pytest

from streamfeed.domain.exceptions import UnknownVerb, ValidationError, VerbConflict
from streamfeed.domain.verbs import (
    Add,
    Comment,
    Follow,
    Love,
    Verb,
    get_verb_by_id,
    get_verb_by_infinitive,
    register,
    resolve_verb,
)


def test_builtins_are_registered_with_their_ids():
    assert [(v.id, v.infinitive, v.past_tense) for v in (Add, Comment, Follow, Love)] == [
        (1, "add", "added"),
        (2, "comment", "commented"),
        (3, "follow", "followed"),
        (4, "love", "loved"),
    ]
    assert get_verb_by_id(4) is Love
    assert get_verb_by_infinitive("comment") is Comment


def test_resolve_accepts_class_instance_id_and_infinitive():
    assert resolve_verb(Love) is Love
    assert resolve_verb(Love()) is Love
    assert resolve_verb(4) is Love
    assert resolve_verb("love") is Love


def test_unknown_verb_names_the_value():
    with pytest.raises(UnknownVerb, match="'pin'") as error:
        get_verb_by_infinitive("pin")
    assert isinstance(error.value, ValidationError)
    assert error.value.field == "verb"
    with pytest.raises(UnknownVerb):
        get_verb_by_id(999)
    with pytest.raises(UnknownVerb):
        resolve_verb(True)


def test_register_refuses_a_taken_id_or_infinitive():
    class Share(Verb):
        id = 1
        infinitive = "share"

    with pytest.raises(VerbConflict, match="already registered by Add"):
        register(Share)

    class Loving(Verb):
        id = 901
        infinitive = "love"

    with pytest.raises(VerbConflict, match="already registered by Love"):
        register(Loving)
    assert get_verb_by_id(1) is Add
    with pytest.raises(UnknownVerb):
        get_verb_by_id(901)


def test_register_a_new_verb_and_default_past_tense():
    class Repin(Verb):
        id = 902
        infinitive = "repin"

    assert register(Repin) is Repin
    assert Repin.past_tense == "repined"
    assert resolve_verb("repin") is Repin
    assert register(Repin) is Repin  # registering the same class again is harmless


def test_unregistered_verb_class_is_refused():
    class Draft(Verb):
        id = 903
        infinitive = "draft"

    with pytest.raises(UnknownVerb, match="not registered"):
        resolve_verb(Draft)
    with pytest.raises(VerbConflict, match="positive integer"):
        register(type("Bad", (Verb,), {"id": 0, "infinitive": "bad"}))
