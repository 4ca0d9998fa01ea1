"""Ids of events and of the records services make: UUIDs that sort by the time they were made."""

from __future__ import annotations

import os
import threading
import time

_RAND_B = (1 << 62) - 1
#: Random bytes are read from the OS a few kilobytes at a time: one ``getrandom`` call for
#: hundreds of ids instead of one each (a busy service makes two ids a submission).
_CHUNK = 4096
_pool = b""
_taken = 0
_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child: never hand out the parent's bytes (and so its ids) again."""
    global _pool, _taken, _lock
    _pool, _taken, _lock = b"", 0, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def _random_bytes(n: int) -> bytes:
    global _pool, _taken
    with _lock:
        if _taken + n > len(_pool):
            _pool, _taken = os.urandom(_CHUNK), 0
        out = _pool[_taken : _taken + n]
        _taken += n
    return out


def new_id() -> str:
    """A fresh UUID of version 7 (RFC 9562), as its canonical 36-character string.

    The first 48 bits are the Unix time in milliseconds, the rest random (74 bits, from the
    operating system's generator). Ids made one after another sort together, so a B-tree
    index on them grows at its right-hand end: a group of new rows touches a few pages
    instead of one page each, which is what the write-ahead log, the commit and the
    checkpoint pay for.
    """
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(_random_bytes(10), "big")
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | ((rand >> 62) & 0xFFF) << 64
        | 0b10 << 62
        | rand & _RAND_B
    )
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
