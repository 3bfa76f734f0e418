"""The API's request and response bodies, and the problem answers each route documents.

Bodies are strict (no coercion, no unknown fields), as produce's JSON lines
are: a client in any language gets the same refusals as the producer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Body
from pydantic import BaseModel, ConfigDict, Field

from streamfeed.domain.json_events import ActivityLine, Scalar

#: The most entries a page may ask for.
MAX_PAGE = 100
#: The most activities one POST may carry.
MAX_BATCH = 500
#: The most follow pairs one batch follow, unfollow or check may carry.
MAX_PAIRS = 1_000


USER_ID = r"^[A-Za-z0-9_.:@\-]{1,200}$"


class FollowBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    follower: str = Field(pattern=USER_ID)
    followed: str = Field(pattern=USER_ID)
    activity_copy_limit: int | None = Field(None, ge=0, le=2**31 - 1)


class FollowPair(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    follower: str = Field(pattern=USER_ID)
    followed: str = Field(pattern=USER_ID)


class FollowBatchBody(BaseModel):
    """Many follows (or unfollows) in one call: checked whole, then each published once."""

    model_config = ConfigDict(extra="forbid", strict=True)
    pairs: list[FollowPair] = Field(min_length=1, max_length=MAX_PAIRS)
    activity_copy_limit: int | None = Field(
        None, ge=0, le=2**31 - 1, description="History copied per follow; null: the app's default."
    )


class FollowCheckBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    pairs: list[FollowPair] = Field(min_length=1, max_length=MAX_PAIRS)


class FollowCheck(BaseModel):
    results: list[bool] = Field(description="Whether each pair's follower follows its followed, in order.")


class UserList(BaseModel):
    user_id: str
    results: list[str] = Field(description="User ids, in user id order.")
    next: str | None = Field(description="`after` for the next page; null at the end.")


class FollowCounts(BaseModel):
    user_id: str
    followers: int
    following: int


#: A reaction's id and kind, as streamfeed.domain.reactions checks them.
REACTION_ID = r"^[A-Za-z0-9_\-]{1,64}$"
KIND = r"^[a-z][a-z0-9_\-]{0,63}$"
#: An activity id: 30 lowercase hex digits (streamfeed.domain.ids).
ACTIVITY_ID = r"^[0-9a-f]{30}$"
#: Where a page of reactions goes on: `<time in microseconds>.<reaction id>` of its last one.
REACTION_CURSOR = r"^[0-9]{1,19}\.[A-Za-z0-9_\-]{1,64}$"


class ReactionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    kind: str = Field(pattern=KIND, description="like, comment, reply, or the app's own.")
    user_id: str = Field(pattern=USER_ID, description="Who reacts (a user token: only itself).")
    data: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict, description="A comment's text, say: scalars and lists, at most 16 KiB."
    )
    parent_id: str | None = Field(
        None, pattern=REACTION_ID, description="The reaction this one is on (a like of a comment)."
    )
    target_feeds: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Feeds to tell of it, 'FEED:USER_ID' (a service only).",
    )
    id: str | None = Field(
        None,
        pattern=REACTION_ID,
        description="Your id for it (default: a new UUID's hex); adding an id again changes nothing.",
    )


class ReactionDataBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    data: dict[str, Scalar | list[Scalar]]


class ReactionOut(BaseModel):
    id: str
    kind: str
    user_id: str
    activity_id: str
    parent_id: str | None
    time: datetime
    data: dict[str, Any]


class ReactionPage(BaseModel):
    activity_id: str
    kind: str
    parent_id: str | None
    results: list[ReactionOut] = Field(description="Newest first.")
    next: str | None = Field(description="`before` for the next page; null at the end.")


class ReactionCounts(BaseModel):
    activity_ids: list[str]
    results: list[dict[str, int]] = Field(description="Live reactions per kind, for each activity in order.")


class OwnReactions(BaseModel):
    user_id: str
    activity_ids: list[str]
    results: list[list[ReactionOut]] = Field(
        description="The user's live reactions on each activity, newest first."
    )


class ContextBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    extra_context: dict[str, Scalar | list[Scalar]]


class MarkBody(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    groups: list[str] | None = Field(None, description="Group keys to mark; null marks every group.")
    seen: bool = True
    read: bool = False
    displayed: list[Annotated[str, Field(max_length=64)]] | None = Field(
        None,
        max_length=5_000,
        description="The activity ids the client displayed (its pages, its realtime entries): "
        "only those are marked, so what arrived since stays unseen. Null: every member the "
        "groups hold when the mark is made. By id: no clock decides.",
    )


class Page(BaseModel):
    feed: str
    user_id: str
    results: list[dict[str, Any]]
    next: str | None = Field(
        description="id_lt for the next page (with `ranking`: the next page's `cursor`); null at the end."
    )
    ranking: str | None = Field(None, description="The ranking that ordered the page, if one did.")


class Counts(BaseModel):
    unseen: int
    unread: int


class ProblemOut(BaseModel):
    """RFC 9457 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    field: str | None = None


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for the problem answers a route gives (problem+json, one schema)."""
    described = {
        400: "A body that is not JSON",
        401: "No or bad credentials",
        403: "Someone else's data",
        404: "No such feed or activity",
        413: "Too large",
        422: "Invalid input, naming the field",
        429: "Too many requests or streams: retry later",
        503: "Storage lost its data: writes refused until it is rebuilt or claimed",
    }
    return {
        code: {
            "description": described[code],
            "model": ProblemOut,
            "content": {"application/problem+json": {}},
        }
        for code in codes
    }


AUTH = (400, 401, 403, 413, 422, 429)


class Accepted(BaseModel):
    accepted: int
    ids: list[str] = []


class ActivityIn(ActivityLine):
    """An activity as produce's JSON lines carry it; `type` may be left out here."""

    type: Literal["activity"] = "activity"
    # Bodies are validated after JSON parsing, where strict mode would refuse an ISO string.
    time: Annotated[datetime | None, Field(strict=False)] = None


ActivityBody = Annotated[ActivityIn | list[ActivityIn], Body()]


class DemoSignIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    user_id: str = Field(pattern=USER_ID)
