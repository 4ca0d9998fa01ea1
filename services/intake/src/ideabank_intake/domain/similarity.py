"""Likely duplicates: word-set Jaccard similarity over title, description and problem.

Ideas are short and written in Swedish (sometimes Norwegian, Danish or English), so a
plain bag of normalised words does well: lower-case, drop stop words and very short
words, and strip the commonest inflection endings so that "parkeringen" and
"parkeringar" meet. Intake keeps each idea's word set in a table, so finding candidates
is one indexed query rather than a scan of every idea's text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_ENDINGS = (
    "erna arna orna ande ende heten heter ningen ningar ning ade are en et na ar er or ing ed es s"
).split()
_STOP = frozenset(
    """
    och att det som för med den har inte till ett jag kan man var ska vid på av är en om
    så men när alla från eller mycket vara blir eftersom också bara sina dess vårt våra
    våran våra vill skulle kunde finns dag hos där här efter under över utan mellan genom
    idag detta dessa dem deras hans hennes vilken vilket vilka inom mer mest sedan samt
    the and for with that this from are was were have has not can will would should could
    into about our their there when what which your more most also only some such
    og ikke til det som med har kan skal vil eller
    """.split()
)
# The endings by length; longer ones are tried first, so "arna" is stripped before "na".
_SUFFIXES: dict[int, frozenset[str]] = {
    n: frozenset(w for w in _ENDINGS if len(w) == n) for n in sorted({len(w) for w in _ENDINGS})
}
_SUFFIX_LENGTHS = sorted(_SUFFIXES, reverse=True)
MIN_LEN = 3
#: Words a text contributes at most; keeps the token table and the query small.
MAX_TOKENS = 200


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Strip one common inflection ending, keeping at least four letters.

    The same few words come back in idea after idea; each is stemmed once (up to the
    cache's size), and an ending is looked up by its length, not tried one by one.
    """
    size = len(word)
    for n in _SUFFIX_LENGTHS:
        if size - n >= 4 and word[-n:] in _SUFFIXES[n]:
            return word[:-n]
    return word


def tokens(*texts: str | None) -> frozenset[str]:
    """The normalised word set of some texts."""
    out: set[str] = set()
    for text in texts:
        if not text:
            continue
        for word in _WORD.findall(text.lower()):
            if len(word) < MIN_LEN or word in _STOP:
                continue
            out.add(stem(word))
            if len(out) >= MAX_TOKENS:
                return frozenset(out)
    return frozenset(out)


def jaccard(shared: int, size_a: int, size_b: int) -> float:
    """Jaccard similarity from the size of the intersection and of both sets."""
    union = size_a + size_b - shared
    return shared / union if union else 0.0


def best_matches(
    query_size: int,
    candidates: Iterable[tuple[str, int, int]],
    *,
    threshold: float,
    limit: int,
) -> list[tuple[str, float]]:
    """Top ``limit`` (id, score) above ``threshold`` from (id, shared, size) candidates."""
    scored = [
        (idea_id, round(jaccard(shared, query_size, size), 3))
        for idea_id, shared, size in candidates
    ]
    hits = [(i, s) for i, s in scored if s >= threshold]
    hits.sort(key=lambda hit: (-hit[1], hit[0]))
    return hits[:limit]
