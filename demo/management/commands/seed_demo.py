"""``manage.py seed_demo``: demo people, follows and a few thousand posts, idempotently."""

import os
import random
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from feeds.models import Follow, Like, Post
from feeds.services import counters_rebuild
from leaks.fingerprints import fingerprints_rebuild
from verification.services import verification_grant

# Well-known demo passwords are the point of demo data; the command refuses to run with DEBUG
# off (unless told otherwise) so they never reach a production database by accident.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin-password-2026"  # noqa: S105
PEOPLE = [
    ("alice", "Alice Archer", "Writes about distributed systems and tea."),
    ("bob", "Bob Brennan", "Birdwatcher. Occasional poet."),
    ("carol", "Carol Chen", "Data engineer. Runs on coffee."),
    ("dave", "Dave Diaz", "Cyclist, cook, compulsive note-taker."),
    ("erin", "Erin Eastwood", "Librarian with opinions about metadata."),
    ("frank", "Frank Fischer", "Photographs bridges."),
    ("grace", "Grace Gupta", "Compiler nerd."),
    ("heidi", "Heidi Hall", "Gardener. Mostly tomatoes."),
    ("ivan", "Ivan Ivanov", "Chess, climbing, Rust."),
    ("judy", "Judy Jones", "Science journalist."),
    ("mallory", "Mallory Moss", "Security researcher. Trust nothing."),
    ("niaj", "Niaj Novak", "Plays the cello badly and loudly."),
]
OPENERS = [
    "Today I learned", "Hot take:", "Reminder:", "Small win:", "Question for everyone:",
    "Reading notes:", "Unpopular opinion:", "Weekend plan:", "Field report:", "Note to self:",
]  # fmt: skip
TOPICS = [
    "keyset pagination beats OFFSET once the table is big",
    "the best tomatoes grow where you forget to water them",
    "a read budget is only fair if you can see the meter",
    "every cache is a promise you have to keep invalidating",
    "the river path is finally open again after the floods",
    "nobody reads the docs until the docs are the only thing left",
    "a good index is worth a hundred clever queries",
    "the library got a new shelf of old atlases",
    "tea brewed for exactly three minutes tastes like patience",
    "cello practice went better than the neighbours expected",
    "a rate limit without a Retry-After header is just a wall",
    "climbing gym was empty at 7am, highly recommend",
]
ENDINGS = [
    "", " 🙂", " Thoughts?", " More soon.", " https://example.org/notes",
    " (thread below)", " Worth it.", " #til",
]  # fmt: skip
REPLIES = [
    "Agreed!", "Hard disagree, but I see the point.", "Source?", "This made my day.",
    "Same here.", "Tell me more.", "Ha, exactly.", "Bookmarking this.",
]  # fmt: skip


class Command(BaseCommand):
    help = "Create demo users, follows, posts, replies, likes and reposts (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--posts", type=int, default=3000, help="Posts to create.")
        parser.add_argument("--seed", type=int, default=2026, help="Random seed.")
        parser.add_argument(
            "--allow-without-debug",
            action="store_true",
            help="Seed even with DEBUG off (the demo accounts have well-known passwords).",
        )

    def handle(self, *args, posts: int, seed: int, allow_without_debug: bool, **options):
        if not settings.DEBUG and not allow_without_debug:
            raise CommandError(
                "Refusing to create demo accounts with well-known passwords while DEBUG is off. "
                "Run with DEBUG=1, or pass --allow-without-debug if this is not production."
            )
        if User.objects.filter(username="alice", posts__isnull=False).exists():
            self.stdout.write("Demo data already present; nothing to do.")
        else:
            with transaction.atomic():
                self._seed(posts=posts, rng=random.Random(seed))  # noqa: S311 - demo data
        self._print_logins()

    def _seed(self, *, posts: int, rng: random.Random) -> None:
        admin = User.objects.filter(username=ADMIN_USERNAME).first()
        if admin is None:
            User.objects.create_superuser(
                username=ADMIN_USERNAME,
                email="admin@example.com",
                password=ADMIN_PASSWORD,
                display_name="Site admin",
            )
        now = timezone.now()
        password_hash = make_password(DEMO_PASSWORD)  # hashed once: the hasher is slow on purpose
        people = []
        for index, (username, name, bio) in enumerate(PEOPLE):
            user, _ = User.objects.get_or_create(
                username=username,
                defaults={
                    "email": f"{username}@example.com",
                    "display_name": name,
                    "bio": bio,
                    "date_joined": now - timedelta(days=60 - index),
                    "password": password_hash,
                },
            )
            people.append(user)

        follows = [
            Follow(follower=a, followee=b)
            for a in people
            for b in rng.sample(people, k=7)
            if a.pk != b.pk
        ]
        Follow.objects.bulk_create(follows, ignore_conflicts=True)

        # Posts, replies and reposts in time order so ids grow with time, as timelines assume.
        start = now - timedelta(days=21)
        step = (now - start) / max(posts, 1)
        created: list[Post] = []
        batch: list[Post] = []
        reposted: set[tuple[int, int]] = set()
        for index in range(posts):
            when = start + step * index
            author = rng.choice(people)
            roll = rng.random()
            if created and roll < 0.06:
                original = rng.choice(created[-500:])
                key = (author.pk, original.pk)
                fresh = key not in reposted and original.author_id != author.pk
                if fresh and original.reply_to_id is None:
                    reposted.add(key)
                    batch.append(Post(author=author, repost_of=original, created_at=when))
                    continue
            if created and roll < 0.3:
                parent = rng.choice(created[-300:])
                batch.append(
                    Post(
                        author=author,
                        text=rng.choice(REPLIES),
                        created_at=when,
                        reply_to=parent,
                        thread_root_id=parent.thread_root_id or parent.pk,
                    )
                )
            else:
                text = f"{rng.choice(OPENERS)} {rng.choice(TOPICS)}.{rng.choice(ENDINGS)}"
                batch.append(Post(author=author, text=text, created_at=when))
            if len(batch) == 250:
                created.extend(p for p in Post.objects.bulk_create(batch) if not p.repost_of_id)
                batch = []
        created.extend(p for p in Post.objects.bulk_create(batch) if not p.repost_of_id)

        likes = [
            Like(user=rng.choice(people), post=rng.choice(created), created_at=now)
            for _ in range(posts * 2)
        ]
        Like.objects.bulk_create(likes, ignore_conflicts=True)
        counters_rebuild()
        # bulk_create sends no post_save, so the leak tracer's text index is built here.
        fingerprints_rebuild()
        # One verified demo account, so the badge shows on timelines, profiles and the API.
        verification_grant(user=people[0], actor=None, reason="Demo data: a verified account")
        self.stdout.write(
            self.style.SUCCESS(
                f"Created {len(people)} people, {Post.objects.count()} posts and reposts, "
                f"{Like.objects.count()} likes, {Follow.objects.count()} follows."
            )
        )

    def _print_logins(self) -> None:
        self.stdout.write("")
        where = os.environ.get("DEMO_HOST", "127.0.0.1:8000")  # make run passes HOST:PORT
        self.stdout.write(f"Demo logins (http://{where}/accounts/login/):")
        self.stdout.write(f"  admin (staff, /admin/): {ADMIN_USERNAME} / {ADMIN_PASSWORD}")
        names = ", ".join(username for username, _, _ in PEOPLE)
        self.stdout.write(f"  people: {names}  — password for each: {DEMO_PASSWORD}")
