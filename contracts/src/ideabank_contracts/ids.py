"""Ids of events and of the records services make: UUIDs that sort by the time they were made."""

from __future__ import annotations

import os
import time

_RAND_B = (1 << 62) - 1


def new_id() -> str:
    """A fresh UUID of version 7 (RFC 9562), as its canonical 36-character string.

    The first 48 bits are the Unix time in milliseconds, the rest random (74 bits). Ids made
    one after another sort together, so a B-tree index on them grows at its right-hand end:
    a group of new rows touches a few pages instead of one page each, which is what the
    write-ahead log, the commit and the checkpoint pay for.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | rand & _RAND_B
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
