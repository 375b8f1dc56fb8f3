"""``manage.py seed_scale``: a large, realistic, deterministic data set for benchmarks.

Power-law follower counts and posting activity, replies, reposts and likes, posting times over
90 days. Everything is generated in memory with explicit ids (so ids grow with time, as the
timelines assume) and written in one transaction — PostgreSQL COPY, or large batches on
SQLite — so an interrupted run leaves nothing behind and a rerun finds the data complete.
"""

import bisect
import itertools
import random
import time
from datetime import UTC, datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import User
from feeds.models import Follow, Like, Post

USERNAME_PREFIX = "scale_"
WORDS = (
    "read budget timeline keyset index cache ledger tier verified scrape detector window "
    "reset token repost reply thread garden river coffee cello climbing library atlas bridge "
    "compiler metadata tomato погода café naïve 東京 мир data privacy meter posts people"
).split()


def _zipf_cumulative(n: int, exponent: float) -> list[float]:
    """Cumulative weights of a Zipf distribution over ranks 1..n."""
    return list(itertools.accumulate(1.0 / (rank**exponent) for rank in range(1, n + 1)))


class Command(BaseCommand):
    help = "Seed a large deterministic data set (users, follows, posts, replies, reposts, likes)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=10_000)
        parser.add_argument("--posts", type=int, default=1_000_000, help="All post rows.")
        parser.add_argument("--follows-per-user", type=int, default=200)
        parser.add_argument("--likes-per-post", type=float, default=2.0)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, users, posts, follows_per_user, likes_per_post, seed, **options):
        if users < 2 or posts < 1 or follows_per_user < 0 or likes_per_post < 0:
            raise CommandError("Need --users >= 2, --posts >= 1 and non-negative rates.")
        follows_per_user = min(follows_per_user, users - 1)
        existing = User.objects.filter(username__startswith=USERNAME_PREFIX).count()
        if existing:
            if existing == users:
                self.stdout.write(f"{existing} scale users already present; nothing to do.")
                return
            raise CommandError(
                f"Found {existing} scale users, asked for {users}. Use a fresh database."
            )
        started = time.monotonic()
        rng = random.Random(seed)  # noqa: S311 - deterministic benchmark data, not security
        with transaction.atomic():
            plan = self._generate(rng, users, posts, follows_per_user, likes_per_post)
            self._write(plan)
        elapsed = time.monotonic() - started
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {users} users, {len(plan['follows'])} follows, {len(plan['posts'])} "
                f"posts, {len(plan['likes'])} likes in {elapsed:.1f} s "
                f"({connection.vendor})."
            )
        )

    # --- generation -----------------------------------------------------------------------

    def _generate(self, rng, n_users, n_posts, follows_per_user, likes_per_post) -> dict:
        now = datetime.now(tz=UTC).replace(microsecond=0)
        first_user_id = (User.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        first_post_id = (Post.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
        user_ids = list(range(first_user_id, first_user_id + n_users))
        password = make_password(None)  # unusable: scale accounts are for load, not log-in
        users = [
            (uid, f"{USERNAME_PREFIX}{i}", f"{USERNAME_PREFIX}{i}@example.com", password,
             now - timedelta(days=120 + rng.random() * 200))
            for i, uid in enumerate(user_ids)
        ]  # fmt: skip

        # Popularity is a power law: a few accounts have most followers and post most.
        popularity = list(user_ids)
        rng.shuffle(popularity)
        follow_cum = _zipf_cumulative(n_users, 1.0)
        total = follow_cum[-1]
        follows = []
        for uid in user_ids:
            chosen = set()
            while len(chosen) < follows_per_user:
                rank = bisect.bisect_left(follow_cum, rng.random() * total)
                followee = popularity[min(rank, n_users - 1)]
                if followee != uid:
                    chosen.add(followee)
            follows.extend((uid, followee) for followee in chosen)

        post_cum = _zipf_cumulative(n_users, 0.8)
        post_total = post_cum[-1]
        start = now - timedelta(days=90)
        span = (now - start).total_seconds()
        posts = []  # (id, author, text, created, reply_to, thread_root, repost_of)
        roots: list[int | None] = []  # thread root per post index
        reposted: set[tuple[int, int]] = set()
        originals: list[int] = []  # indexes of non-repost posts, for picking targets
        for index in range(n_posts):
            post_id = first_post_id + index
            created = start + timedelta(seconds=span * index / n_posts)
            author = popularity[
                min(bisect.bisect_left(post_cum, rng.random() * post_total), n_users - 1)
            ]
            roll = rng.random()
            if originals and roll < 0.05:
                target = originals[-1 - int(rng.random() ** 3 * min(len(originals), 5000))]
                key = (author, first_post_id + target)
                if key not in reposted and posts[target][1] != author:
                    reposted.add(key)
                    posts.append((post_id, author, "", created, None, None, key[1]))
                    roots.append(None)
                    continue
            if originals and roll < 0.25:
                parent = originals[-1 - int(rng.random() ** 2 * min(len(originals), 2000))]
                root = roots[parent] or (first_post_id + parent)
                text = " ".join(rng.choices(WORDS, k=rng.randint(3, 20)))
                posts.append((post_id, author, text, created, first_post_id + parent, root, None))
                roots.append(root)
            else:
                text = " ".join(rng.choices(WORDS, k=rng.randint(5, 40)))
                posts.append((post_id, author, text, created, None, None, None))
                roots.append(None)
            originals.append(index)

        likes = set()
        n_likes = int(len(originals) * likes_per_post)
        for _ in range(n_likes):
            target = originals[int(rng.random() ** 2 * len(originals))]
            likes.add((rng.choice(user_ids), first_post_id + target))
        return {"users": users, "follows": follows, "posts": posts, "likes": sorted(likes)}

    # --- writing --------------------------------------------------------------------------

    def _write(self, plan: dict) -> None:
        users, follows, posts, likes = plan["users"], plan["follows"], plan["posts"], plan["likes"]
        replies, reposts, like_counts = {}, {}, {}
        for _, _, _, _, reply_to, _, repost_of in posts:
            if reply_to:
                replies[reply_to] = replies.get(reply_to, 0) + 1
            if repost_of:
                reposts[repost_of] = reposts.get(repost_of, 0) + 1
        for _, post_id in likes:
            like_counts[post_id] = like_counts.get(post_id, 0) + 1
        followers, following, authored = {}, {}, {}
        for follower, followee in follows:
            following[follower] = following.get(follower, 0) + 1
            followers[followee] = followers.get(followee, 0) + 1
        for _, author, _, _, _, _, repost_of in posts:
            if not repost_of:
                authored[author] = authored.get(author, 0) + 1
        now = datetime.now(tz=UTC)

        user_rows = (
            (uid, name, email, pw, joined, "", "", "", False, False, True, followers.get(uid, 0),
             following.get(uid, 0), authored.get(uid, 0), False, name.title())
            for uid, name, email, pw, joined in users
        )  # fmt: skip
        user_cols = (
            "id, username, email, password, date_joined, first_name, last_name, bio, "
            "is_superuser, is_staff, is_active, followers_count, following_count, posts_count, "
            "is_verified, display_name"
        )
        post_rows = (
            (pid, author, text, created, reply_to, root, repost_of, replies.get(pid, 0),
             reposts.get(pid, 0), like_counts.get(pid, 0))
            for pid, author, text, created, reply_to, root, repost_of in posts
        )  # fmt: skip
        post_cols = (
            "id, author_id, text, created_at, reply_to_id, thread_root_id, repost_of_id, "
            "replies_count, reposts_count, likes_count"
        )
        self._copy(User._meta.db_table, user_cols, user_rows)
        self._copy(
            Follow._meta.db_table,
            "follower_id, followee_id, created_at",
            ((a, b, now) for a, b in follows),
        )
        self._copy(Post._meta.db_table, post_cols, post_rows)
        self._copy(
            Like._meta.db_table, "user_id, post_id, created_at", ((u, p, now) for u, p in likes)
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                for model in (User, Post, Follow, Like):
                    table = model._meta.db_table
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT MAX(id) FROM {table}))"
                    )
                cursor.execute("ANALYZE")

    def _copy(self, table: str, columns: str, rows) -> None:
        """Write rows with COPY on PostgreSQL, or executemany in large batches elsewhere."""
        count = len(columns.split(","))
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                raw = cursor.cursor  # psycopg 3 cursor under Django's wrapper
                with raw.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            return
        placeholders = ", ".join(["%s"] * count)
        sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"  # noqa: S608
        with connection.cursor() as cursor:
            while batch := list(itertools.islice(rows, 5000)):
                cursor.executemany(sql, batch)
