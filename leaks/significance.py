"""How unlikely a reader's share of a leaked dump is, and which readers together cover it.

The rule (docs/leaks.md). Over the days on which the dump's posts were delivered there are R
readers (accounts; logged-out readers grouped by IP prefix), and reader r received V_r posts.
The matched posts are grouped by author and by how widely they were delivered (the order of
magnitude of their readers): ordinary readers receive an author's posts together (a follower's
home timeline, a visit to the profile), so such a group is one piece of evidence, not one per
post, while a popular post cannot mask the rare posts of the same author. Reader r received
V_r posts in the window and posts of x_r of the K groups; n_a readers received a post of group
a. An ordinary reader with r's reading volume would have received a post of group a with
probability

    p_ra = 1 - (1 - pi_a) ** (V_r / mean V of the others),
    pi_a = (n_a - [r received one] + 1/2) / (R + 1)

— the share of the *other* readers who received one (Jeffreys-smoothed, so a post only r
received is rare, not impossible), raised to r's volume relative to the others'. A post
everybody read has pi_a near 1, so p_ra is near 1 and receiving it proves nothing; a post
nobody else read is strong evidence. The tail P(X >= x_r) of the Poisson-binomial sum of the
p_ra is multiplied by R (Bonferroni: every reader was a suspect) and reported as
significance = -log10 of it. A reader is named when significance >= ``NAMING_THRESHOLD`` and
they received at least ``MIN_POSTS`` of the posts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NAMING_THRESHOLD = 5.0
MIN_POSTS = 3
SIGNIFICANCE_CAP = 300.0  # -log10 of the smallest tail float64 can hold, about
EXACT_TAIL_MAX_POSTS = 400  # above this many matched posts, a Chernoff bound (an upper bound)


@dataclass(frozen=True)
class Suspect:
    """One reader's figures against the dump."""

    unit: str
    received: frozenset[int]  # the matched posts this reader received
    groups: int  # from how many evidence groups (authors)
    volume: int  # posts this reader received over the window
    expected: float  # from how many groups an ordinary reader like it would get posts
    tail: float  # P(an ordinary reader with this volume gets >= len(received))
    significance: float  # -log10(min(1, tail * readers))

    @property
    def named(self) -> bool:
        return self.significance >= NAMING_THRESHOLD and len(self.received) >= MIN_POSTS


def poisson_binomial_tail(probabilities: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """P(X_r >= counts[r]) for X_r a sum of independent Bernoulli(probabilities[r, j]).

    Exact dynamic programme over the posts, vectorised over readers: O(readers x K^2).
    """
    readers, posts = probabilities.shape
    dist = np.zeros((readers, posts + 1))
    dist[:, 0] = 1.0
    for j in range(posts):
        p = probabilities[:, j : j + 1]
        shifted = np.zeros_like(dist)
        shifted[:, 1:] = dist[:, :-1] * p
        dist = dist * (1.0 - p) + shifted
    cumulative = np.cumsum(dist[:, ::-1], axis=1)[:, ::-1]  # cumulative[r, k] = P(X >= k)
    return cumulative[np.arange(readers), np.minimum(counts, posts)]


def chernoff_tail(means: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """An upper bound on P(X >= count) for a sum of Bernoullis with mean ``means``: too
    large, never too small, so a bound can only spare a reader, never accuse one."""
    x = counts.astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = np.exp(-means + x - x * np.log(np.maximum(x, 1e-300) / np.maximum(means, 1e-300)))
    return np.where(x > means, np.minimum(bound, 1.0), 1.0)


def suspects_rank(
    *,
    received: dict[str, set[int]],
    volumes: dict[str, int],
    groups: dict[int, object],
    readers: int,
    min_posts: int = MIN_POSTS,
) -> list[Suspect]:
    """Every reader who received at least ``min_posts`` matched posts, most significant first.

    ``received``: reader -> matched posts received; ``volumes``: reader -> posts received over
    the window (every reader of the window); ``groups``: matched post -> its evidence group
    (author, order of magnitude of its readers); ``readers``: R, how many readers read
    anything in the window.
    """
    received = {unit: {p for p in got if p in groups} for unit, got in received.items()}
    keys = sorted(set(groups.values()), key=str)
    candidates = [unit for unit, got in received.items() if len(got) >= min_posts]
    if not candidates or readers < 2 or not keys:
        return []
    column = {key: index for index, key in enumerate(keys)}
    reach = np.zeros(len(keys))
    for got in received.values():
        for key in {groups[post] for post in got}:
            reach[column[key]] += 1
    total = float(sum(volumes.values()))
    got = np.zeros((len(candidates), len(keys)))
    for row, unit in enumerate(candidates):
        for post in received[unit]:
            got[row, column[groups[post]]] = 1.0
    pi = np.clip((reach[None, :] - got + 0.5) / (readers + 1.0), 0.0, 1.0)
    volume = np.array([max(volumes.get(unit, 0), len(received[unit])) for unit in candidates])
    others_mean = np.maximum((total - volume) / (readers - 1), 1.0)
    ratio = volume / others_mean
    p = 1.0 - np.power(1.0 - pi, ratio[:, None])
    counts = got.sum(axis=1).astype(int)
    if len(keys) <= EXACT_TAIL_MAX_POSTS:
        tails = poisson_binomial_tail(p, counts)
    else:
        tails = chernoff_tail(p.sum(axis=1), counts)
    expected = p.sum(axis=1)
    result = []
    for row, unit in enumerate(candidates):
        tail = float(tails[row])
        corrected = min(1.0, tail * readers)
        significance = SIGNIFICANCE_CAP if corrected <= 0 else -math.log10(corrected)
        result.append(
            Suspect(
                unit=unit,
                received=frozenset(received[unit]),
                groups=int(counts[row]),
                volume=int(volume[row]),
                expected=float(expected[row]),
                tail=tail,
                significance=min(significance, SIGNIFICANCE_CAP),
            )
        )
    result.sort(key=lambda s: (-s.significance, -len(s.received), s.unit))
    return result


def cover_greedy(suspects: list[Suspect]) -> list[Suspect]:
    """The named readers that together cover the matched posts they received: greedy set
    cover (each step takes the reader adding most uncovered posts; ties: most significant)."""
    pool = [s for s in suspects if s.named]
    covered: set[int] = set()
    chosen: list[Suspect] = []
    while pool:
        best = max(pool, key=lambda s: (len(s.received - covered), s.significance))
        if not best.received - covered:
            break
        chosen.append(best)
        covered |= best.received
        pool.remove(best)
    return chosen
