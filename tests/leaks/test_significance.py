"""The significance rule and the set cover (issue 17): posts everybody read accuse nobody,
rare posts received in bulk do, and several harvesters are named as the set covering the dump."""

import random

import numpy as np

from leaks.significance import (
    NAMING_THRESHOLD,
    SCORE_STEP,
    Relations,
    cover_greedy,
    suspects_name,
    suspects_rank,
    weighted_tail,
    weighted_tail_bound,
)


def test_weighted_tail_is_exact_up_to_the_grid_and_never_smaller():
    """Ensures that the tail of the surprise score matches a brute force over every subset of
    groups: never below it (rounding can only spare), and within the grid's slack above it."""
    from itertools import product

    chance = random.Random(5)  # noqa: S311 - test data
    for _ in range(20):
        p = np.array([10 ** -chance.uniform(0.05, 4) for _ in range(9)])
        got = np.array([float(chance.random() < 0.4) for _ in range(9)])
        tail, score = weighted_tail(p, got)
        surprise = -np.log10(p)
        exact = slack = 0.0
        for pattern in product([0, 1], repeat=9):
            x = np.array(pattern)
            chance_of = float(np.prod(np.where(x == 1, p, 1 - p)))
            total = float((surprise * x).sum())
            exact += chance_of if total >= score - 1e-12 else 0.0
            slack += chance_of if total >= score - 9 * SCORE_STEP else 0.0
        assert exact - 1e-12 <= tail <= slack + 1e-12
        assert weighted_tail_bound(p[None, :], got[None, :])[0] >= tail - 1e-12


def population(readers: int = 1000, popular: int = 50, volume: int = 60):
    """Every reader received the popular posts 1..popular; each reads ``volume`` posts."""
    received = {f"user:{n}": set(range(1, popular + 1)) for n in range(readers)}
    volumes = dict.fromkeys(received, volume)
    return received, volumes


def test_posts_everybody_read_accuse_nobody():
    """Ensures that 50 posts every reader received name no reader."""
    received, volumes = population()
    groups = {pid: ("author", pid) for pid in range(1, 51)}
    suspects = suspects_rank(received=received, volumes=volumes, groups=groups, readers=1000)
    assert suspects and not any(s.named for s in suspects)


def test_rare_posts_received_in_bulk_name_the_reader():
    """Ensures that the one reader who received 50 posts nobody else did is named, with a
    significance past the threshold, while a reader with 2 of them is not."""
    received, volumes = population()
    received["user:harvester"] = set(range(1000, 1050))
    volumes["user:harvester"] = 1000
    received["user:0"] |= {1000, 1001}
    groups = {pid: ("author", pid) for pid in range(1000, 1050)}
    suspects = suspects_rank(received=received, volumes=volumes, groups=groups, readers=1001)
    named = [s.unit for s in suspects if s.named]
    assert named == ["user:harvester"]
    assert suspects[0].significance >= NAMING_THRESHOLD


def test_one_authors_posts_count_as_one_piece_of_evidence():
    """Ensures that many rare posts of one author (a profile visit) weigh like one post, so a
    follower who read one author's profile is not named."""
    received, volumes = population()
    received["user:fan"] = set(range(2000, 2020))
    groups = dict.fromkeys(range(2000, 2020), ("niche author", 0))
    suspects = suspects_rank(received=received, volumes=volumes, groups=groups, readers=1000)
    fan = next(s for s in suspects if s.unit == "user:fan")
    assert fan.groups == 1 and not fan.named


def test_a_huge_reader_is_not_named_for_what_its_volume_explains():
    """Ensures that the volume scaling spares a reader whose reading volume alone makes
    receiving moderately common posts likely."""
    received, volumes = population(readers=1000)
    common = set(range(3000, 3020))
    chance = random.Random(3)  # noqa: S311 - test data
    for n in range(1000):  # each reader received each of these with probability 0.3
        received[f"user:{n}"] |= {pid for pid in common if chance.random() < 0.3}
    received["user:big"] = set(common)
    volumes["user:big"] = 6000
    groups = {pid: ("author", pid) for pid in common}
    suspects = suspects_rank(received=received, volumes=volumes, groups=groups, readers=1001)
    assert not any(s.named for s in suspects)


def test_set_cover_names_the_farm_that_covers_the_dump():
    """Ensures that the greedy set cover picks the named readers that together cover the
    dump's posts, skipping one whose posts others already cover."""
    received, volumes = population()
    slices = {f"user:farm{n}": set(range(5000 + 10 * n, 5010 + 10 * n)) for n in range(4)}
    received.update(slices)
    received["user:copy"] = set(range(5000, 5008))  # inside farm0's slice
    for unit in [*slices, "user:copy"]:
        volumes[unit] = 120
    groups = {pid: ("a", pid) for pid in range(5000, 5040)}
    suspects = suspects_rank(received=received, volumes=volumes, groups=groups, readers=1005)
    cover = [s.unit for s in cover_greedy(suspects)]
    assert sorted(cover) == sorted(slices)
    assert "user:copy" in {s.unit for s in suspects if s.named}


def test_residual_rounds_name_a_farm_account_too_small_to_stand_alone():
    """Ensures that the conditional procedure names a farm account with 5 posts of the dump
    that round 1 alone does not name, once the accounts covering the rest are named, and that
    an innocent with 3 of the residual posts is not named."""
    received, volumes = population(readers=4000)
    chance = random.Random(11)  # noqa: S311 - test data
    dump = list(range(6000, 6050))
    # Posts read by some ordinary readers too: each by a few percent of them.
    for n in range(4000):
        received[f"user:{n}"] |= {pid for pid in dump if chance.random() < 0.004}
    slices = [dump[0:12], dump[12:24], dump[24:36], dump[36:45], dump[45:50]]
    for n, part in enumerate(slices):
        received[f"user:farm{n}"] = set(part)
        volumes[f"user:farm{n}"] = 120
    received["user:1"] |= set(dump[45:48])
    groups = {pid: ("author", pid) for pid in dump}
    alone = suspects_rank(received=received, volumes=volumes, groups=groups, readers=4005)
    assert "user:farm4" not in {s.unit for s in alone if s.named}
    suspects = suspects_name(received=received, volumes=volumes, groups=groups, readers=4005)
    named = {s.unit for s in suspects if s.named}
    assert named == {f"user:farm{n}" for n in range(5)}
    farm4 = next(s for s in suspects if s.unit == "user:farm4")
    assert farm4.round > 1 and farm4.tested == frozenset(dump[45:50])


def test_a_dump_nobody_stands_out_in_gets_no_second_round():
    """Ensures that when round 1 names nobody the procedure stops there (posts everybody read
    accuse nobody, in any round)."""
    received, volumes = population()
    groups = {pid: ("author", pid) for pid in range(1, 51)}
    suspects = suspects_name(received=received, volumes=volumes, groups=groups, readers=1000)
    assert suspects and all(s.round == 1 and not s.named for s in suspects)


def followers_world(readers: int = 1000, authors: int = 5, followers: int = 100, got: int = 40):
    """``authors`` authors with ``followers`` followers each among ``readers`` readers; each
    author's one post (7000 + a) reached ``got`` of its followers and nobody else. Returns the
    population, the groups and the strata, plus a slot for the readers under test."""
    received, volumes = population(readers=readers)
    related: dict[object, set[str]] = {}
    groups = {}
    for a in range(authors):
        key = (f"author{a}", 1)
        groups[7000 + a] = key
        fans = [f"user:{n}" for n in range(a * followers, (a + 1) * followers)]
        related[key] = set(fans)
        for unit in fans[:got]:
            received[unit].add(7000 + a)
    return received, volumes, groups, related


def strata(related, readers):
    return Relations(
        related={key: frozenset(units) for key, units in related.items()},
        readers={key: len(units) for key, units in related.items()},
    )


def test_a_non_follower_holding_posts_only_followers_received_is_named():
    """Ensures that a reader who follows none of five authors and holds one post of each —
    posts that only the authors' followers received — is named within its stratum, where the
    pooled null (a few percent of all readers received each) does not name it."""
    received, volumes, groups, related = followers_world()
    received["user:outsider"] = set(groups)
    volumes["user:outsider"] = 120
    readers = len(received)
    pooled = suspects_name(received=received, volumes=volumes, groups=groups, readers=readers)
    assert "user:outsider" not in {s.unit for s in pooled if s.named}
    suspects = suspects_name(
        received=received,
        volumes=volumes,
        groups=groups,
        readers=readers,
        relations=strata(related, readers),
    )
    assert [s.unit for s in suspects if s.named] == ["user:outsider"]
    outsider = suspects[0]
    assert outsider.significance >= NAMING_THRESHOLD and outsider.related_groups == 0


def test_a_follower_holding_the_same_posts_is_not_named():
    """Ensures that a reader who follows the five authors and holds the same five posts is not
    surprising in its stratum (about two in five of the followers received each) — and that
    the stratum never makes a follower more surprising than the pooled null would."""
    received, volumes, groups, related = followers_world()
    received["user:fan"] = set(groups)
    volumes["user:fan"] = 120
    for units in related.values():
        units.add("user:fan")
    readers = len(received)
    pooled = suspects_rank(received=received, volumes=volumes, groups=groups, readers=readers)
    suspects = suspects_rank(
        received=received,
        volumes=volumes,
        groups=groups,
        readers=readers,
        relations=strata(related, readers),
    )
    assert not any(s.named for s in suspects)
    fan = next(s for s in suspects if s.unit == "user:fan")
    assert fan.related_groups == 5
    assert fan.significance <= next(s for s in pooled if s.unit == "user:fan").significance


def test_widely_read_posts_accuse_nobody_in_any_stratum():
    """Ensures that a dump of posts every reader received names nobody, whoever follows whom:
    in each stratum almost every reader received them."""
    received, volumes = population(readers=1000)
    groups = {pid: (f"author{pid % 7}", 3) for pid in range(1, 51)}
    chance = random.Random(9)  # noqa: S311 - test data
    related = {
        key: {unit for unit in received if chance.random() < 0.2} for key in set(groups.values())
    }
    received["user:outsider"] = set(range(1, 51))  # follows nobody, read them all too
    volumes["user:outsider"] = 60
    readers = len(received)
    suspects = suspects_name(
        received=received,
        volumes=volumes,
        groups=groups,
        readers=readers,
        relations=strata(related, readers),
    )
    assert suspects and not any(s.named for s in suspects)
