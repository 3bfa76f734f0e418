"""Verbs: what an actor did. Producers send the infinitive; storage keeps the small id.

As in Stream Framework, a verb is a class with ``id``, ``infinitive`` and
``past_tense`` that is registered once. The registry refuses a second verb
with the same id or infinitive, because either would silently re-label every
stored activity that uses it.
"""

from __future__ import annotations

from streamfeed.domain.exceptions import UnknownVerb, VerbConflict


class Verb:
    """Base class: subclass, set the three attributes, and decorate with @register."""

    id: int = 0
    infinitive: str = ""
    past_tense: str = ""

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.past_tense and cls.infinitive:
            cls.past_tense = cls.infinitive + "ed"

    def __repr__(self) -> str:
        return f"<Verb {self.infinitive} ({self.id})>"


_by_id: dict[int, type[Verb]] = {}
_by_infinitive: dict[str, type[Verb]] = {}


def register(verb: type[Verb]) -> type[Verb]:
    """Make a verb known to producers and storage; usable as a class decorator."""
    if not isinstance(verb.id, int) or verb.id <= 0:
        raise VerbConflict(f"verb {verb.__name__}: id must be a positive integer, got {verb.id!r}")
    if not verb.infinitive or not verb.infinitive.isidentifier():
        raise VerbConflict(f"verb {verb.__name__}: infinitive must be a word, got {verb.infinitive!r}")
    for key, taken in (
        (verb.id, _by_id.get(verb.id)),
        (verb.infinitive, _by_infinitive.get(verb.infinitive)),
    ):
        if taken is not None and taken is not verb:
            raise VerbConflict(f"verb {verb.__name__}: {key!r} is already registered by {taken.__name__}")
    _by_id[verb.id] = verb
    _by_infinitive[verb.infinitive] = verb
    return verb


def get_verb_by_id(verb_id: int) -> type[Verb]:
    try:
        return _by_id[verb_id]
    except (KeyError, TypeError):
        raise UnknownVerb("verb", verb_id, "no verb is registered with this id") from None


def get_verb_by_infinitive(infinitive: str) -> type[Verb]:
    try:
        return _by_infinitive[infinitive]
    except (KeyError, TypeError):
        known = ", ".join(sorted(_by_infinitive))
        raise UnknownVerb("verb", infinitive, f"unknown verb; registered: {known}") from None


def resolve_verb(verb: type[Verb] | Verb | str | int) -> type[Verb]:
    """Accept a Verb class or instance, an infinitive or an id: whatever a caller has."""
    if isinstance(verb, type) and issubclass(verb, Verb):
        registered = _by_id.get(verb.id)
        if registered is not verb:
            raise UnknownVerb("verb", verb.__name__, "verb class is not registered")
        return verb
    if isinstance(verb, Verb):
        return resolve_verb(type(verb))
    if isinstance(verb, bool):
        raise UnknownVerb("verb", verb, "a verb is an infinitive, an id or a Verb class")
    if isinstance(verb, int):
        return get_verb_by_id(verb)
    if isinstance(verb, str):
        return get_verb_by_infinitive(verb)
    raise UnknownVerb("verb", verb, "a verb is an infinitive, an id or a Verb class")


@register
class Add(Verb):
    id = 1
    infinitive = "add"
    past_tense = "added"


@register
class Comment(Verb):
    id = 2
    infinitive = "comment"
    past_tense = "commented"


@register
class Follow(Verb):
    id = 3
    infinitive = "follow"
    past_tense = "followed"


@register
class Love(Verb):
    id = 4
    infinitive = "love"
    past_tense = "loved"
