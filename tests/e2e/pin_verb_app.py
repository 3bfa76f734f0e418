"""The default app plus a verb "stash": the fix a dead-letter replay test applies before replaying."""

from __future__ import annotations

from streamfeed.app.manager import Manager
from streamfeed.domain.verbs import Verb, register


@register
class Pin(Verb):
    id = 42
    infinitive = "stash"
    past_tense = "stashed"


manager = Manager()
