"""Fitting feed-ops batches under the broker's message size: split by encoded bytes, not by count.

A batch's size depends on what its activities carry (extra_context may be
16 KB each), so a count limit alone cannot keep a history copy of 500
activities under Kafka's max.message.bytes. Halving keeps the pieces in
order and each one whole: every piece is a valid batch on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from streamfeed.domain.events import FanoutBatch
from streamfeed.domain.exceptions import ValidationError


def split_to_fit(batch: FanoutBatch, encode: Callable[[FanoutBatch], bytes], max_bytes: int) -> list[bytes]:
    """The batch encoded as one or more messages of at most max_bytes each, in order.

    Splits the activities first (a copy's size is its activities), then the
    recipients. A single activity for a single recipient that is still too
    big is bad input: nothing downstream could ever accept it.
    """
    encoded = encode(batch)
    if len(encoded) <= max_bytes:
        return [encoded]
    if len(batch.activities) > 1:
        half = len(batch.activities) // 2
        pieces = [
            dataclasses.replace(batch, activities=list(batch.activities[:half])),
            dataclasses.replace(batch, activities=list(batch.activities[half:])),
        ]
    elif len(batch.recipients) > 1:
        half = len(batch.recipients) // 2
        pieces = [
            dataclasses.replace(batch, recipients=list(batch.recipients[:half])),
            dataclasses.replace(batch, recipients=list(batch.recipients[half:])),
        ]
    else:
        raise ValidationError(
            "activity",
            batch.activities[0].id if batch.activities else batch.recipients,
            f"encodes to {len(encoded)} bytes in a feed-ops message, above feed_ops_max_bytes ({max_bytes})",
        )
    return [message for piece in pieces for message in split_to_fit(piece, encode, max_bytes)]
