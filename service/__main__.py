"""The command line: python -m service <command>."""

import argparse
import asyncio
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from service import schema_migrations
from service.config import get_settings
from service.db import create_engine, create_sessionmaker
from service.errors import ServiceError
from service.models.columns import utcnow

T = TypeVar("T")


async def _in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_engine(get_settings())
    try:
        async with create_sessionmaker(engine).begin() as session:
            return await work(session)
    finally:
        await engine.dispose()


def _ensure_sqlite_directory() -> None:
    url = get_settings().database_url
    if url.startswith("sqlite") and ":///" in url and ":memory:" not in url:
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)


def migrate(_: argparse.Namespace) -> None:
    """Migrate the schema to head, bring the domain taxonomy up to date, and read again the
    domains of profiles that have only the ones read from their words."""
    from service.directory.service import load_taxonomy, refresh_inferred, sync_taxonomy

    async def sync(session: AsyncSession) -> int:
        count = await sync_taxonomy(session)
        await refresh_inferred(session, taxonomy=await load_taxonomy(session))
        return count

    _ensure_sqlite_directory()
    schema_migrations.upgrade()
    count = asyncio.run(_in_transaction(sync))
    print(f"database at head; {count} domains in the taxonomy")


def load_demo(args: argparse.Namespace) -> None:
    """Load the Wenzhou demo event; loading twice gives the same records."""
    from service.demo.load import is_empty
    from service.demo.load import load_demo as load

    if getattr(args, "if_empty", False) and not asyncio.run(_in_transaction(is_empty)):
        print("the database holds data already; demo not loaded")
        return
    counts = asyncio.run(_in_transaction(load))
    print("demo loaded: " + ", ".join(f"{n} {kind}" for kind, n in counts.items()))


def purge(_: argparse.Namespace) -> None:
    """Delete expired idempotency records and old finished webhook events (daily, from cron)."""
    from service.idempotency import purge_expired
    from service.webhooks.service import purge_finished

    settings = get_settings()
    days = settings.webhook_retention_days

    async def work() -> tuple[int, int]:
        engine = create_engine(settings)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with sessionmaker.begin() as session:
                expired = await purge_expired(session)
            cutoff, finished = utcnow() - timedelta(days=days), 0
            while True:  # in short transactions, so a backlog never holds the database
                async with sessionmaker.begin() as session:
                    batch = await purge_finished(session, older_than=cutoff)
                finished += batch
                if not batch:
                    return expired, finished
        finally:
            await engine.dispose()

    expired, finished = asyncio.run(work())
    print(f"{expired} expired idempotency records deleted")
    print(f"{finished} finished webhook events older than {days} days deleted, with their attempts")


def write_openapi(args: argparse.Namespace) -> None:
    """Write the API contract, openapi.yaml, as the app generates it."""
    from service.app import create_app
    from service.openapi import openapi_yaml

    text = openapi_yaml(create_app())
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}", file=sys.stderr)


def serve(args: argparse.Namespace) -> None:
    """Serve the API with uvicorn."""
    directory = None
    if args.ephemeral:
        directory = tempfile.mkdtemp(prefix="smk-")
        os.environ["DATABASE_URL"] = f"sqlite+aiosqlite:///{directory}/ephemeral.db"
        # The demo event is a day of 2025: integration suites check in to it live, so the
        # door's grace reaches it unless the environment says otherwise.
        os.environ.setdefault("CHECKIN_GRACE_HOURS", "1000000")
        get_settings.cache_clear()
        migrate(args)
        load_demo(args)
        key = argparse.Namespace(
            role="admin",
            name="ephemeral",
            committee=None,
            organization=None,
            event=None,
            allow=[],
        )
        create_api_key(key)
        print(f"ephemeral database in {directory}, deleted when the server stops", file=sys.stderr)
    # uvicorn shuts down gracefully on SIGTERM/SIGINT and then re-raises the signal to the
    # handler it found: with this one the process exits 0 and the cleanup below still runs.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    try:
        _run_uvicorn(args)
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    finally:
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _run_uvicorn(args: argparse.Namespace) -> None:
    import uvicorn

    uvicorn.run(
        "service.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=20,
    )


def worker(args: argparse.Namespace) -> None:
    """Run schedule builds until SIGTERM: from the queue on PostgreSQL, else from the database."""
    from service.jobs import queue
    from service.logs import configure_logging

    settings = get_settings()
    if args.processes:
        settings = settings.model_copy(update={"build_processes": args.processes})
    configure_logging(settings)
    if queue.uses_queue(settings):
        asyncio.run(queue.serve(settings))
    else:
        asyncio.run(_local_worker(settings))


async def _local_worker(settings: Any) -> None:
    from service.jobs.local import LocalPool

    engine = create_engine(settings)
    pool = LocalPool(create_sessionmaker(engine), settings=settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    pool.start()
    try:
        await stop.wait()
    finally:
        await pool.stop()
        await engine.dispose()


def schedule(args: argparse.Namespace) -> None:
    """Build an event's draft schedule here, with a progress bar; it replaces the draft."""
    state = asyncio.run(_schedule(args))
    if state != "succeeded":
        raise SystemExit(1)


async def _schedule(args: argparse.Namespace) -> str:
    from tqdm import tqdm

    from service.builds import service as builds
    from service.events.service import get_event
    from service.jobs.runner import run_build
    from service.models import Schedule

    settings = get_settings()
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    time_limit = args.time_limit or settings.schedule_time_limit_seconds
    bar = tqdm(
        total=round(time_limit, 1),
        unit="s",
        desc="building",
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.0f} s{postfix}",
    )
    started = asyncio.get_running_loop().time()

    def show(progress: dict[str, Any]) -> None:
        shown = {k: "?" if v is None else v for k, v in progress.items()}
        weight, bound = progress.get("weight"), progress.get("weight_bound")
        gap = f"{(bound - weight) / bound:.2%}" if weight is not None and bound else "?"
        bar.set_postfix_str(
            f"weight {shown.get('weight', '?')} ≤ {shown.get('weight_bound', '?')} (gap {gap}), "
            f"breaks {shown.get('breaks', '?')} ≥ {shown.get('breaks_bound', '?')}",
            refresh=False,
        )

    async def tick() -> None:
        while True:
            bar.n = min(round(asyncio.get_running_loop().time() - started, 1), bar.total)
            bar.refresh()
            await asyncio.sleep(0.2)

    try:
        async with sessionmaker.begin() as session:
            # A build left running by a process that died must not hold the event.
            await builds.sweep(session, settings=settings)
        async with sessionmaker.begin() as session:
            event = await get_event(session, event_id=args.event)
            build = await builds.submit(
                session, event=event, mode=args.mode, fairness=None, time_limit=time_limit
            )
        ticker = asyncio.create_task(tick())
        try:
            state = await run_build(
                sessionmaker, build_id=build.id, settings=settings, listener=show
            )
            # Taken by a web worker's pool first: follow it there.
            while state is None or state not in builds.FINISHED:
                await asyncio.sleep(0.5)
                async with sessionmaker.begin() as session:
                    build = await builds.get_build(session, event_id=event.id, build_id=build.id)
                show(build.progress)
                state = build.state if build.state in builds.FINISHED else None
        finally:
            ticker.cancel()
            bar.close()
        async with sessionmaker.begin() as session:
            build = await builds.get_build(session, event_id=event.id, build_id=build.id)
            schedule = await session.get(Schedule, build.schedule_id) if build.schedule_id else None
        if schedule is not None:
            print(
                f"draft {schedule.id}: {schedule.status}, weight {schedule.total_weight} of at "
                f"most {schedule.weight_bound}, in {schedule.seconds:.1f} s "
                f"(build {build.id}); publish it with POST /v1/events/{event.id}/schedule:publish"
            )
        else:
            print(f"build {build.id} {build.state}: {build.error or ''}", file=sys.stderr)
        return state
    finally:
        await engine.dispose()


def import_file(args: argparse.Namespace) -> None:
    """Import committees or organizations from CSV or XLSX, all or nothing."""
    from service.directory import service as directory
    from service.spreadsheets import read_table

    rows = read_table(Path(args.file).read_bytes())
    work = (
        directory.import_committees if args.what == "committees" else directory.import_organizations
    )

    async def run(session: AsyncSession) -> "directory.ImportCounts":
        return await work(session, rows=rows, taxonomy=await directory.load_taxonomy(session))

    counts = asyncio.run(_in_transaction(run))
    print(
        f"{args.what}: {counts.created} created, {counts.updated} updated, "
        f"{counts.unchanged} unchanged"
    )


def export_file(args: argparse.Namespace) -> None:
    """Export committees or organizations as CSV or XLSX."""
    from service.directory import service as directory
    from service.spreadsheets import write_csv, write_xlsx

    side: directory.Side = "committee" if args.what == "committees" else "organization"
    columns = directory.export_columns(side)

    async def run(session: AsyncSession) -> list[list[Any]]:
        taxonomy = await directory.load_taxonomy(session)
        return await directory.export_rows(session, side, taxonomy=taxonomy)

    rows = asyncio.run(_in_transaction(run))
    if args.format == "xlsx":
        data = write_xlsx(columns, rows, title=args.what)
    else:
        data = write_csv(columns, rows)
    output = args.output or f"{args.what}.{args.format}"
    if output == "-":
        sys.stdout.buffer.write(data)
    else:
        Path(output).write_bytes(data)
        print(f"{len(rows)} {args.what} written to {output}", file=sys.stderr)


def create_api_key(args: argparse.Namespace) -> None:
    """Create an API key; its secret is printed as the last line and never again."""
    from service.auth.service import create_api_key as create

    async def run(session: AsyncSession) -> tuple[Any, str]:
        return await create(
            session,
            name=args.name,
            role=args.role,
            committee_id=args.committee,
            organization_id=args.organization,
            event_id=args.event,
            permissions=args.allow,
        )

    key, secret = asyncio.run(_in_transaction(run))
    print(
        f"created {key.role} key {key.id} ({key.name}); "
        "keep the secret below, it is not shown again"
    )
    print(secret, flush=True)


def _permissions(value: str) -> list[str]:
    from service.models import API_KEY_PERMISSIONS

    given = [p.strip() for p in value.split(",") if p.strip()]
    unknown = [p for p in given if p not in API_KEY_PERMISSIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown permission {', '.join(unknown)} (known: {', '.join(API_KEY_PERMISSIONS)})"
        )
    return given


def _uuid(value: str) -> Any:
    import uuid

    try:
        return uuid.UUID(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID") from None


def build_parser() -> argparse.ArgumentParser:
    """The command line's grammar."""
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("migrate", help=migrate.__doc__).set_defaults(run=migrate)
    demo_cmd = commands.add_parser("load-demo", help=load_demo.__doc__)
    demo_cmd.add_argument(
        "--if-empty", action="store_true", help="load only into a database without committees"
    )
    demo_cmd.set_defaults(run=load_demo)

    commands.add_parser("purge", help=purge.__doc__).set_defaults(run=purge)

    openapi_cmd = commands.add_parser("openapi", help=write_openapi.__doc__)
    openapi_cmd.add_argument("--output", default="-", help="file to write, - for standard output")
    openapi_cmd.set_defaults(run=write_openapi)

    serve_cmd = commands.add_parser("serve", help=serve.__doc__)
    serve_cmd.add_argument("--host", default="127.0.0.1")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument("--workers", type=int, default=1)
    serve_cmd.add_argument(
        "--ephemeral", action="store_true", help="serve a throw-away database with the demo loaded"
    )
    serve_cmd.set_defaults(run=serve)

    worker_cmd = commands.add_parser("worker", help=worker.__doc__)
    worker_cmd.add_argument(
        "--processes", type=int, help="builds run at once (default BUILD_PROCESSES)"
    )
    worker_cmd.set_defaults(run=worker)

    schedule_cmd = commands.add_parser("schedule", help=schedule.__doc__)
    schedule_cmd.add_argument("event", type=_uuid, help="the event's id")
    schedule_cmd.add_argument("--mode", choices=["rebuild", "fill"], default="rebuild")
    schedule_cmd.add_argument(
        "--time-limit", type=float, help="seconds (default SCHEDULE_TIME_LIMIT_SECONDS)"
    )
    schedule_cmd.set_defaults(run=schedule)

    import_cmd = commands.add_parser("import", help=import_file.__doc__)
    import_cmd.add_argument("what", choices=["committees", "organizations"])
    import_cmd.add_argument("file")
    import_cmd.set_defaults(run=import_file)

    export_cmd = commands.add_parser("export", help=export_file.__doc__)
    export_cmd.add_argument("what", choices=["committees", "organizations"])
    export_cmd.add_argument("--format", choices=["csv", "xlsx"], default="csv")
    export_cmd.add_argument("--output", help="file to write, - for standard output")
    export_cmd.set_defaults(run=export_file)

    key_cmd = commands.add_parser("create-api-key", help=create_api_key.__doc__)
    key_cmd.add_argument(
        "--role", choices=["admin", "partner", "kiosk", "table_host"], required=True
    )
    key_cmd.add_argument("--name", required=True)
    party = key_cmd.add_mutually_exclusive_group()
    party.add_argument("--committee", type=_uuid, help="the committee a partner key speaks for")
    party.add_argument(
        "--organization", type=_uuid, help="the organization a partner key speaks for"
    )
    key_cmd.add_argument(
        "--event", type=_uuid, help="limit a kiosk key to one event; a table host's event"
    )
    key_cmd.add_argument(
        "--allow",
        type=_permissions,
        default=[],
        help="what a kiosk key may do beyond scans, comma-separated: undo_checkin, walk_in",
    )
    key_cmd.set_defaults(run=create_api_key)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors a user can fix are printed without a stack trace."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except ServiceError as error:
        print(f"error: {error.detail}", file=sys.stderr)
        for item in error.extra.get("errors", [])[:50]:
            where = f"row {item['row']}, " if "row" in item else ""
            print(f"  {where}{item.get('field', '')}: {item.get('message', '')}", file=sys.stderr)
        return 2
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
