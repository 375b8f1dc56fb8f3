"""The significance rule and the set cover (issue 17): posts everybody read accuse nobody,
rare posts received in bulk do, and several harvesters are named as the set covering the dump."""

import random

import numpy as np
import pytest

from leaks.significance import (
    NAMING_THRESHOLD,
    cover_greedy,
    poisson_binomial_tail,
    suspects_rank,
)


def test_poisson_binomial_tail_is_exact():
    """Ensures that the tail equals the binomial tail when all probabilities are equal."""
    from math import comb

    p, n = 0.3, 10
    tails = poisson_binomial_tail(np.full((1, n), p), np.array([4]))
    expected = sum(comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(4, n + 1))
    assert tails[0] == pytest.approx(expected)


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
