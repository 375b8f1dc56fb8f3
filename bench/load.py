"""The locustfile of `make load`: simulated people reading, posting and logging in.

Not run on its own: ``python -m bench.loadtest`` (bench/loadtest.py) prepares the accounts,
starts gunicorn and a Celery worker, then runs ``locust -f bench/load.py --headless``. Each
simulated user is one real account (a read+write API token and a web session prepared by the
runner, in ``LOAD_ACCOUNTS_FILE``) whose daily read budget is far above what the run can read,
so every 429 it meets is a refusal of a reader under budget: a failure.

Task mix (weights out of 100): 90 reads — the home, public and account timelines by the API,
the home, public and profile pages by the web — 8 posts by the API, 2 logins by the web form
(with CSRF). Each person thinks 1-5 s between actions (``LOAD_WAIT_MIN`` / ``LOAD_WAIT_MAX``).
Every response is recorded (name, kind, status, time, read-budget headers) and
written to ``LOAD_SAMPLES_FILE`` when locust stops, so the runner computes exact percentiles
per kind rather than locust's rounded ones.
"""

import itertools
import json
import os
import random
import re
import time

from locust import HttpUser, between, events, task

ACCOUNTS_FILE = os.environ.get("LOAD_ACCOUNTS_FILE", "")
SAMPLES_FILE = os.environ.get("LOAD_SAMPLES_FILE", "")
# Think time between one person's actions, in seconds.
WAIT_MIN = float(os.environ.get("LOAD_WAIT_MIN", "1"))
WAIT_MAX = float(os.environ.get("LOAD_WAIT_MAX", "5"))
# Not a browser, and not a scraper library either (bench traffic must not look like one).
USER_AGENT = "Mozilla/5.0 (compatible; microblog-loadtest/1.0)"
CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')

_fixture: dict = {}
_next_account = itertools.count()
_samples: list[list] = []  # [name, kind, status, ms, metered, remaining, account, t, error]
_started = time.monotonic()


def _load_fixture() -> dict:
    if not _fixture:
        if not ACCOUNTS_FILE:
            raise SystemExit("LOAD_ACCOUNTS_FILE is not set: run `python -m bench.loadtest`.")
        with open(ACCOUNTS_FILE, encoding="utf-8") as handle:
            _fixture.update(json.load(handle))
    return _fixture


@events.request.add_listener
def _record(name, response_time, response=None, context=None, exception=None, **kwargs):
    """Keep every response's figures; the runner turns them into the report."""
    status = getattr(response, "status_code", 0) or 0
    headers = getattr(response, "headers", None) or {}
    remaining = headers.get("X-RateLimit-Remaining")
    _samples.append(
        [
            name,
            name.split(" ", 1)[0],
            status,
            round(response_time, 3),
            "X-RateLimit-Reset" in headers,
            int(remaining) if remaining and remaining.lstrip("-").isdigit() else None,
            (context or {}).get("account"),
            round(time.monotonic() - _started, 2),
            repr(exception)[:300] if exception else None,
        ]
    )


def _why(response) -> str:
    """A failed response in words: the status, or the connection error behind status 0."""
    if response.status_code == 0:
        return f"no response: {getattr(response, 'error', None)!r}"[:300]
    return f"status {response.status_code}: {response.text[:200]}"


@events.quitting.add_listener
def _write_samples(environment, **kwargs):
    if SAMPLES_FILE:
        with open(SAMPLES_FILE, "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "fields": [
                        "name",
                        "kind",
                        "status",
                        "ms",
                        "metered",
                        "remaining",
                        "account",
                        "t",
                        "error",
                    ],
                    "samples": _samples,
                },
                handle,
            )


class Person(HttpUser):
    """One account: reads timelines and profiles, sometimes posts, now and then logs in again."""

    wait_time = between(WAIT_MIN, WAIT_MAX)

    def on_start(self) -> None:
        fixture = _load_fixture()
        accounts = fixture["accounts"]
        self.account = accounts[next(_next_account) % len(accounts)]
        self.profiles = fixture["profiles"]
        self.auth = {"Authorization": f"Bearer {self.account['token']}"}
        self.client.headers["User-Agent"] = USER_AGENT
        self.client.cookies.set("sessionid", self.account["sessionid"], domain="127.0.0.1")
        self.home_max_id: str | None = None

    def context(self) -> dict:
        return {"account": self.account["username"]}

    # --- helpers ------------------------------------------------------------------------

    def _get(self, url: str, name: str, *, api: bool):
        """GET expecting 200; anything else (a 429 above all) is a failure."""
        headers = self.auth if api else None
        with self.client.get(
            url, name=name, headers=headers, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code == 200:
                response.success()
            elif response.status_code == 429:
                response.failure(f"429 refusal of a reader under budget: {response.text[:200]}")
            else:
                response.failure(_why(response))
            return response

    # --- reads (90) ---------------------------------------------------------------------

    @task(22)
    def api_home(self) -> None:
        response = self._get("/api/v1/timelines/home", "read GET /api/v1/timelines/home", api=True)
        if response.status_code == 200:
            statuses = response.json()
            self.home_max_id = statuses[-1]["id"] if statuses else None

    @task(5)
    def api_home_older(self) -> None:
        """Scroll: the next page of the home timeline (keyset, ``max_id``)."""
        if not self.home_max_id:
            return self.api_home()
        response = self._get(
            f"/api/v1/timelines/home?max_id={self.home_max_id}",
            "read GET /api/v1/timelines/home?max_id",
            api=True,
        )
        if response.status_code == 200:
            statuses = response.json()
            self.home_max_id = statuses[-1]["id"] if statuses else None
        return None

    @task(13)
    def api_public(self) -> None:
        self._get("/api/v1/timelines/public", "read GET /api/v1/timelines/public", api=True)

    @task(15)
    def api_account_statuses(self) -> None:
        profile = random.choice(self.profiles)
        self._get(
            f"/api/v1/accounts/{profile['id']}/statuses",
            "read GET /api/v1/accounts/:id/statuses",
            api=True,
        )

    @task(15)
    def web_home(self) -> None:
        self._get("/", "read GET / (web home)", api=False)

    @task(15)
    def web_profile(self) -> None:
        profile = random.choice(self.profiles)
        self._get(f"/@{profile['username']}/", "read GET /@:username/ (web profile)", api=False)

    @task(5)
    def web_public(self) -> None:
        self._get("/public/", "read GET /public/ (web)", api=False)

    # --- posts (8) ----------------------------------------------------------------------

    @task(8)
    def api_post(self) -> None:
        text = f"Load test post from {self.account['username']} at {time.time():.3f}"
        with self.client.post(
            "/api/v1/statuses",
            name="post POST /api/v1/statuses",
            headers=self.auth,
            json={"status": text},
            catch_response=True,
        ) as response:
            if response.status_code == 200 and response.json().get("content"):
                response.success()
            else:
                response.failure(_why(response))

    # --- logins (2) ---------------------------------------------------------------------

    @task(2)
    def web_login(self) -> None:
        """Log in again from a fresh browser: the form, its CSRF token, the password."""
        self.client.cookies.clear()
        with self.client.get(
            "/accounts/login/", name="login GET /accounts/login/", catch_response=True
        ) as form:
            match = CSRF_INPUT.search(form.text)
            if form.status_code != 200 or not match:
                form.failure(f"no login form: {_why(form)}")
                return
            form.success()
        with self.client.post(
            "/accounts/login/",
            name="login POST /accounts/login/",
            data={
                "username": self.account["username"],
                "password": self.account["password"],
                "csrfmiddlewaretoken": match.group(1),
                "next": "",
            },
            headers={"Referer": f"{self.host}/accounts/login/"},
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code == 302 and self.client.cookies.get("sessionid"):
                response.success()
            else:
                response.failure(f"login failed: {_why(response)}")
