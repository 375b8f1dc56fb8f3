"""How unlikely a reader's share of a leaked dump is, and which readers together cover it.

The rule (docs/leaks.md). Over the days on which the dump's posts were delivered there are R
readers (accounts; logged-out readers grouped by IP prefix), and reader r received V_r posts.
The matched posts are grouped by author and by how widely they were delivered (the order of
magnitude of their readers): ordinary readers receive an author's posts together (a follower's
home timeline, a visit to the profile), so such a group is one piece of evidence, not one per
post. n_a readers received a post of group a. An ordinary reader with r's reading volume
would have received a post of group a with probability

    p_ra = 1 - (1 - pi_a) ** (V_r / mean V of the others),
    pi_a = (n_a - [r received one] + 1/2) / (R + 1)

— the share of the *other* readers who received one (Jeffreys-smoothed), scaled to r's volume.
Given ``Relations`` (the strata), the share is taken within r's own stratum for group a: the
readers related to a's author (who follow it, or a reposter, or got a's posts on their home
timeline) or the others; a related reader's share is never below the pooled one (``_stratified``).
What r received is scored by its surprise, s_r = sum over the groups r received of
-log10 p_ra: a post everybody read adds nothing, a post nobody else read adds about log10 R.
The tail P(S >= s_r) of the same score for an ordinary reader (each group received
independently with p_ra) is computed exactly (``weighted_tail``), multiplied by R (Bonferroni:
every reader was a suspect) and reported as significance = -log10 of it. A reader is named
when significance >= ``NAMING_THRESHOLD`` and they received at least ``MIN_POSTS`` of the posts
under test.

Several harvesters (``suspects_name``): after round 1 has named the readers who stand out on
the whole dump, round k tests every other reader again on the *residual* — the matched posts
no named reader received — at k x R. The residual is fixed by the named readers' deliveries,
not by the reader under test, so for an ordinary reader the test is as valid as round 1, and
the k in k x R keeps the whole family's error under alpha x (1 + 1/2 + ... + 1/8) < 2.72 alpha.
A dump nobody stands out in (round 1 names nobody) never gets a second round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

NAMING_THRESHOLD = 5.0
MIN_POSTS = 3
SIGNIFICANCE_CAP = 300.0  # -log10 of the smallest tail float64 can hold, about
SURPRISE_CAP = 12.0  # no probability below 10^-12 (the smoothing floor is far above it)
SCORE_STEP = 0.05  # the grid of the exact tail, in log10 units
MAX_ROUNDS = 8  # rounds of the conditional procedure: the family error is at most 2.72 x alpha
EXACT_TAIL_MAX_CELLS = 20_000_000  # past this, the Chernoff bound (an upper bound) instead
EXACT_FOR_SHOWN = 30  # readers whose exact tail is computed even when they cannot be named


@dataclass(frozen=True)
class Suspect:
    """One reader's figures against the dump."""

    unit: str
    received: frozenset[int]  # the matched posts this reader received
    tested: frozenset[int]  # ... of which under test in its round (all, or the residual)
    groups: int  # from how many evidence groups (authors) among the posts tested
    volume: int  # posts this reader received over the window
    expected: float  # from how many groups an ordinary reader like it would get posts
    score: float  # the surprise of what it received: sum of -log10 p over its groups
    tail: float  # P(an ordinary reader with this volume scores >= score)
    significance: float  # -log10(min(1, tail * readers * round))
    round: int = 1  # the round of the conditional procedure this figure comes from
    related_groups: int = 0  # ... groups it received whose author it follows (its stratum)

    @property
    def named(self) -> bool:
        return self.significance >= NAMING_THRESHOLD and len(self.tested) >= MIN_POSTS


@dataclass(frozen=True)
class Relations:
    """How the readers relate to each evidence group's author, to compare a reader with the
    ordinary readers *of its own stratum*: the readers who follow the author (or someone who
    reposted one of the group's posts) receive them on their home timeline, the others rarely.

    ``related``: group -> the readers in its related stratum (only those of interest are
    needed: every reader who received a matched post); ``readers``: group -> how many of the
    window's R readers are in that stratum (the rest are the unrelated stratum)."""

    related: dict[object, frozenset[str]]
    readers: dict[object, int]


def weighted_tail(probabilities: np.ndarray, received: np.ndarray) -> tuple[float, float]:
    """(P(S >= s), s) for one reader: S = sum of w_j over the groups an ordinary reader would
    receive (each independently, with probability p_j), w_j = -log10 p_j its surprise, and s
    the same sum over the groups this reader did receive.

    Exact dynamic programme over a grid of ``SCORE_STEP``; every w_j of the null is rounded
    *up* to the grid, which can only make the tail larger (spare, never accuse).
    """
    p = np.clip(probabilities, 10.0**-SURPRISE_CAP, 1.0)
    surprise = -np.log10(p)
    score = float((surprise * received).sum())
    if score <= 0.0:
        return 1.0, score
    if len(p) * score / SCORE_STEP > EXACT_TAIL_MAX_CELLS:  # a huge dump: the bound
        return float(weighted_tail_bound(p[None, :], received[None, :])[0]), score
    steps = np.ceil(surprise / SCORE_STEP - 1e-9).astype(int)
    top = int(math.ceil(score / SCORE_STEP - 1e-9))
    dist = np.zeros(top + 1)  # dist[k] = P(S = k steps) for k < top; dist[top] = P(S >= top)
    dist[0] = 1.0
    for pj, step in zip(p, steps, strict=True):
        if step == 0:
            continue
        moved = dist * pj
        dist = dist * (1.0 - pj)
        if step >= top:
            dist[top] += moved.sum()
        else:
            dist[step:top] += moved[: top - step]
            dist[top] += moved[top - step :].sum()
    return float(dist[top]), score


def weighted_tail_bound(probabilities: np.ndarray, received: np.ndarray) -> np.ndarray:
    """A Chernoff upper bound on ``weighted_tail`` for every row at once (readers x groups):
    P(S >= s) <= prod_j (1 - p_j + p_j^(1 - t)) x 10^(-t s), the best t of a grid in (0, 1]."""
    p = np.clip(probabilities, 10.0**-SURPRISE_CAP, 1.0)
    score = (-np.log10(p) * received).sum(axis=1)
    best = np.ones(len(p))
    for t in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0):
        log_bound = np.log10(1.0 - p + p ** (1.0 - t)).sum(axis=1) - t * score
        best = np.minimum(best, np.power(10.0, np.minimum(log_bound, 0.0)))
    return best


def _stratified(*, pi, got, reach, keys, candidates, under_test, groups, readers, relations):
    """(pi, related): each candidate's pi_a taken within its own stratum for group a.

    Unrelated to a's author: the share of the other *unrelated* readers who received a post
    of group a, Jeffreys-smoothed over that stratum. Related: the share of the other related
    readers, never below the pooled share ``pi`` (a follower is at least as likely as anyone
    to receive the author's posts; a larger null probability can only spare)."""
    column = {key: index for index, key in enumerate(keys)}
    members = [relations.related.get(key, frozenset()) for key in keys]
    reach_related = np.zeros(len(keys))
    for unit, posts in under_test.items():
        for key in {groups[post] for post in posts}:
            if unit in members[column[key]]:
                reach_related[column[key]] += 1
    reach_unrelated = reach - reach_related
    # A stratum holds at least the readers seen in it.
    size_related = np.array([float(relations.readers.get(key, 0)) for key in keys])
    size_related = np.clip(size_related, reach_related, readers - reach_unrelated)
    size_unrelated = readers - size_related
    related = np.array([[float(unit in group) for group in members] for unit in candidates])
    within_related = (reach_related[None, :] - got + 0.5) / (size_related[None, :] + 1.0)
    within_unrelated = (reach_unrelated[None, :] - got + 0.5) / (size_unrelated[None, :] + 1.0)
    stratified = np.where(related > 0, np.maximum(within_related, pi), within_unrelated)
    return np.clip(stratified, 0.0, 1.0), related


def _significance(tail: float, factor: float) -> float:
    corrected = min(1.0, tail * factor)
    return SIGNIFICANCE_CAP if corrected <= 0 else min(-math.log10(corrected), SIGNIFICANCE_CAP)


def suspects_rank(
    *,
    received: dict[str, set[int]],
    volumes: dict[str, int],
    groups: dict[int, object],
    readers: int,
    total_volume: float | None = None,
    min_posts: int = MIN_POSTS,
    round_number: int = 1,
    relations: Relations | None = None,
) -> list[Suspect]:
    """Every reader who received at least ``min_posts`` of the posts in ``groups``, most
    significant first, tested on those posts alone (one round of ``suspects_name``).

    ``received``: reader -> matched posts received (every reader who received any);
    ``volumes``: reader -> posts received over the window (at least every candidate);
    ``groups``: post -> its evidence group (author, order of magnitude of its readers), for the
    posts under test; ``readers``: R, how many readers read anything in the window;
    ``total_volume``: posts delivered to all of them (default: the sum of ``volumes``);
    ``round_number``: k, the round of the conditional procedure (the tail is multiplied by
    k x R); ``relations``: the strata (``Relations``; None: one stratum, every reader alike).
    """
    under_test = {unit: {p for p in got if p in groups} for unit, got in received.items()}
    keys = sorted(set(groups.values()), key=str)
    candidates = [unit for unit, got in under_test.items() if len(got) >= min_posts]
    if not candidates or readers < 2 or not keys:
        return []
    column = {key: index for index, key in enumerate(keys)}
    reach = np.zeros(len(keys))
    for got in under_test.values():
        for key in {groups[post] for post in got}:
            reach[column[key]] += 1
    total = float(sum(volumes.values()) if total_volume is None else total_volume)
    got = np.zeros((len(candidates), len(keys)))
    for row, unit in enumerate(candidates):
        for post in under_test[unit]:
            got[row, column[groups[post]]] = 1.0
    pi = np.clip((reach[None, :] - got + 0.5) / (readers + 1.0), 0.0, 1.0)
    related = np.zeros_like(got)
    if relations is not None:
        pi, related = _stratified(
            pi=pi,
            got=got,
            reach=reach,
            keys=keys,
            candidates=candidates,
            under_test=under_test,
            groups=groups,
            readers=readers,
            relations=relations,
        )
    volume = np.array([max(volumes.get(unit, 0), len(received[unit])) for unit in candidates])
    others_mean = np.maximum((total - volume) / (readers - 1), 1.0)
    p = 1.0 - np.power(1.0 - pi, (volume / others_mean)[:, None])
    factor = float(readers) * round_number
    bounds = weighted_tail_bound(p, got)
    scores = (-np.log10(np.clip(p, 10.0**-SURPRISE_CAP, 1.0)) * got).sum(axis=1)
    # The exact tail where it could matter: a reader whose bound already names it, or whose
    # score could reach the threshold (the tail is at least 10^-score: receiving these very
    # posts), or one of the few shown first. The others keep the bound (it can only spare).
    possible = scores - math.log10(factor) >= NAMING_THRESHOLD - 1.0
    shown = np.argsort(bounds)[:EXACT_FOR_SHOWN]
    exact = set(np.flatnonzero(possible | (bounds * factor < 1.0)).tolist()) | set(shown.tolist())
    expected = p.sum(axis=1)
    result = []
    for row, unit in enumerate(candidates):
        tail = weighted_tail(p[row], got[row])[0] if row in exact else float(bounds[row])
        result.append(
            Suspect(
                unit=unit,
                received=frozenset(received[unit]),
                tested=frozenset(under_test[unit]),
                groups=int(got[row].sum()),
                volume=int(volume[row]),
                expected=float(expected[row]),
                score=float(scores[row]),
                tail=tail,
                significance=_significance(tail, factor),
                round=round_number,
                related_groups=int((got[row] * related[row]).sum()),
            )
        )
    result.sort(key=lambda s: (-s.significance, -len(s.received), s.unit))
    return result


def suspects_name(
    *,
    received: dict[str, set[int]],
    volumes: dict[str, int],
    groups: dict[int, object],
    readers: int,
    total_volume: float | None = None,
    max_rounds: int = MAX_ROUNDS,
    relations: Relations | None = None,
) -> list[Suspect]:
    """The conditional procedure: round 1 tests every reader on all the matched posts; each
    later round k tests every reader not yet named on the *residual* posts (those no named
    reader received), at k x R. Stops when a round names nobody new or nothing is left. Each
    reader keeps its most significant round; returns them most significant first.
    ``relations``: the strata every round compares a reader within (``suspects_rank``)."""
    best: dict[str, Suspect] = {}
    named: set[str] = set()
    residual = dict(groups)
    for round_number in range(1, max_rounds + 1):
        found = suspects_rank(
            received={u: got for u, got in received.items() if u not in named},
            volumes=volumes,
            groups=residual,
            readers=readers,
            total_volume=total_volume,
            round_number=round_number,
            relations=relations,
        )
        for suspect in found:
            kept = best.get(suspect.unit)
            if kept is None or suspect.significance > kept.significance:
                best[suspect.unit] = suspect
        new = [s for s in found if s.named]
        if not new:
            break
        named.update(s.unit for s in new)
        covered = set().union(*(s.received for s in new))
        residual = {post: group for post, group in residual.items() if post not in covered}
        if not residual:
            break
    return sorted(best.values(), key=lambda s: (-s.significance, -len(s.received), s.unit))


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
