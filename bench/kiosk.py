"""The event-day door: several kiosks check 2,000 people in while the help desk searches.

    .venv/bin/python -m bench.kiosk [--workers 2] [--kiosks 6] [--searchers 3] [--pace S]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

A scratch database (dropped afterwards) holds the demo event: 57 parties, whose people are
brought to 2,000 in all, each with a badge of their own. Each person arriving has their badge
scanned once: 2,000 scans, 2,000 first check-ins (the party arrives with its first person). The
real server
(`python -m service serve --workers N`) is driven by locust from a separate process: the kiosks
scan back to back until everyone has arrived, the searchers look people up by name, phone tail
or badge meanwhile. It prints the latency of both (median and p99) and the number of duplicate
check-in records, which must be 0.

This file is also the locustfile: the user classes at the end are defined only under locust.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.load import (
    DEFAULT_DATABASE_URL,
    REPO,
    WENZHOU,
    free_port,
    machine,
    plain_dsn,
    prepare,
    report,
    scratch_database,
    serve_service,
)

PEOPLE = 2_000
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余于杜叶程"
)
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕云宇轩浩然思远嘉欣子涵"
TITLES = ["秘书长", "工程师", "主任", "项目经理", "研究员", "总经理", "标准化专员"]


async def add_people(database_url: str, total: int) -> dict[str, Any]:
    """Bring the demo event's people to total, spread over its parties; return search terms.

    The API takes at most 20 people a party, fewer than 2,000 over 57 parties need, so the people
    are written here with the service's own model and search indexing.
    """
    from sqlalchemy import select

    from service.badges import new_badge_code
    from service.config import Settings
    from service.db import create_engine, create_sessionmaker
    from service.models import Event, Person
    from service.participants import service as registration

    engine = create_engine(Settings(database_url=database_url))
    draw = random.Random(5)
    try:
        async with create_sessionmaker(engine).begin() as session:
            event = await session.scalar(select(Event).where(Event.name_zh == WENZHOU))
            assert event is not None
            participants = list(
                (await session.scalars(registration.participants_query(event.id))).all()
            )
            have = sum(len(p.people) for p in participants)
            for number in range(total - have):
                participant = participants[number % len(participants)]
                name = draw.choice(SURNAMES) + "".join(draw.sample(GIVEN, draw.choice((1, 2))))
                participant.people.append(
                    Person(
                        position=len(participant.people),
                        badge_code=new_badge_code(),
                        name=name,
                        title=draw.choice(TITLES),
                        phone=f"+86 13{draw.randrange(10)} {draw.randrange(10**4):04d} "
                        f"{draw.randrange(10**4):04d}",
                    )
                )
            for participant in participants:
                registration._index_for_search(participant)  # what registration does
            await session.flush()
            people = [person for p in participants for person in p.people]
            return {
                "event_id": str(event.id),
                "arrivals": [person.badge_code for person in people],
                "queries": [person.name for person in people]
                + [
                    "".join(ch for ch in person.phone or "" if ch.isdigit())[-4:]
                    for person in people
                ]
                + [person.badge_code for person in people[::10]]
                + ["温州", "wenzhou", "zj", "标准化", "智能装备"],
            }
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--kiosks", type=int, default=6)
    parser.add_argument("--searchers", type=int, default=3)
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="seconds each kiosk and searcher waits between requests (0: back to back, a "
        "throughput test; a person at a real kiosk takes a second or more per badge)",
    )
    args = parser.parse_args()

    import asyncpg
    import httpx

    workdir = Path(tempfile.mkdtemp(prefix="smk-bench-kiosk-"))
    print(f"machine: {machine()}; load average before: {os.getloadavg()}")
    print(
        f"server: {args.workers} workers; {args.kiosks} kiosks, "
        f"{'back to back' if not args.pace else f'one request every {args.pace} s each'}, "
        f"{args.searchers} searchers; locust; files in {workdir}"
    )
    with scratch_database(args.database_url) as url:
        admin = prepare(url)
        data = asyncio.run(add_people(url, PEOPLE))
        random.Random(9).shuffle(data["arrivals"])
        port = free_port()
        with serve_service(
            url,
            workers=args.workers,
            port=port,
            log=workdir / "service.log",
            RATE_LIMIT_KIOSK="10000000",
        ) as base:
            with httpx.Client(base_url=base, headers=admin, timeout=30) as client:
                data["keys"] = [
                    client.post(
                        "/v1/api-keys", json={"name": f"kiosk {i}", "role": "kiosk"}
                    ).json()["secret"]
                    for i in range(args.kiosks + args.searchers)
                ]
            data_file = workdir / "data.json"
            data_file.write_text(json.dumps(data))
            command = [sys.executable, "-m", "locust", "-f", str(Path(__file__).resolve())]
            command += ["--headless", "--only-summary", "--loglevel", "ERROR", "-t", "300s"]
            command += ["-u", str(args.kiosks + args.searchers), "-r", "100"]
            command += ["--host", base, "--csv", str(workdir / "kiosk"), "Kiosk", "HelpDesk"]
            env = {
                **os.environ,
                "BENCH_DATA": str(data_file),
                "BENCH_KIOSKS": str(args.kiosks),
                "BENCH_SEARCHERS": str(args.searchers),
                "BENCH_PACE": str(args.pace),
            }
            with (workdir / "locust.log").open("w") as log:
                subprocess.run(command, cwd=REPO, env=env, stdout=log, stderr=log, check=False)

        async def count() -> tuple[int, int, int, int]:
            connection = await asyncpg.connect(plain_dsn(url))
            try:
                checkins = await connection.fetchval("SELECT count(*) FROM checkins")
                duplicates = await connection.fetchval(
                    "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM checkins "
                    "GROUP BY person_id) AS c"
                )
                first_answers = await connection.fetchval(
                    "SELECT count(*) FROM scans WHERE outcome = 'checked_in'"
                )
                scans = await connection.fetchval("SELECT count(*) FROM scans")
                return checkins, duplicates, first_answers, scans
            finally:
                await connection.close()

        checkins, duplicates, first_answers, scans = asyncio.run(count())

    import csv

    figures: dict[str, dict[str, float]] = {}
    with open(workdir / "kiosk_stats.csv", newline="") as table:
        for row in csv.DictReader(table):
            figures[row["Name"]] = {
                "count": float(row["Request Count"]),
                "failures": float(row["Failure Count"]),
                "rps": float(row["Requests/s"]),
                "median": float(row["50%"] or 0),
                "p99": float(row["99%"] or 0),
            }
    report("the door: 2,000 arrivals, 57 parties", figures)
    print(
        f"\nscans recorded {scans} (of {PEOPLE}); check-in records {checkins} (of {PEOPLE} "
        f"people); scans answered 201 {first_answers}; duplicate check-in records of a person "
        f"{duplicates} (must be 0)"
    )
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
elif "locust" in sys.modules:
    import itertools
    from urllib.parse import urlencode

    import gevent
    from locust import FastHttpUser, constant, task

    DATA: dict[str, Any] = json.loads(Path(os.environ["BENCH_DATA"]).read_text())
    _ARRIVALS = iter(DATA["arrivals"])
    _NUMBERS = itertools.count()
    _KIOSKS_LEFT = [int(os.environ["BENCH_KIOSKS"])]

    class Kiosk(FastHttpUser):
        """A kiosk scanning the badge of whoever arrives next, until nobody is left."""

        fixed_count = int(os.environ["BENCH_KIOSKS"])
        wait_time = constant(float(os.environ["BENCH_PACE"]))

        def on_start(self) -> None:
            self.number = next(_NUMBERS)
            self.headers = {"Authorization": f"Bearer {DATA['keys'][self.number]}"}
            self.scans = itertools.count()

        @task
        def scan(self) -> None:
            badge = next(_ARRIVALS, None)
            if badge is None:
                _KIOSKS_LEFT[0] -= 1
                if _KIOSKS_LEFT[0] == 0:
                    # Everyone is in. Quitting stops every user, this one too: from elsewhere.
                    gevent.spawn(self.environment.runner.quit)
                self.stop()
                return
            with self.client.post(
                f"/v1/events/{DATA['event_id']}/checkins",
                json={"badge_code": badge, "nonce": f"k{self.number}-{next(self.scans)}"},
                headers=self.headers,
                name="check-in",
                catch_response=True,
            ) as answer:
                if answer.status_code not in (200, 201):
                    answer.failure(f"{answer.status_code}: {answer.text[:200]}")

    class HelpDesk(FastHttpUser):
        """Someone at the help desk finding a participant by name, phone tail or badge."""

        fixed_count = int(os.environ["BENCH_SEARCHERS"])
        wait_time = constant(float(os.environ["BENCH_PACE"]))

        def on_start(self) -> None:
            number = next(_NUMBERS)
            searchers = int(os.environ["BENCH_SEARCHERS"])
            self.headers = {"Authorization": f"Bearer {DATA['keys'][-1 - number % searchers]}"}
            self.random = random.Random(number)

        @task
        def search(self) -> None:
            query = urlencode({"q": self.random.choice(DATA["queries"]), "limit": 10})
            self.client.get(
                f"/v1/events/{DATA['event_id']}/participants?{query}",
                headers=self.headers,
                name="search",
            )
