"""`bot serve`, `bot worker`: the process entry points."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator, Sequence

import uvicorn
from pydantic import ValidationError

from bot.devserver import DevServer
from bot.errors import BotError
from bot.github import GitHubApp
from bot.settings import Settings
from bot.temporal import TemporalStarter, activity_objects, build_worker, connect
from bot.webapp import create_app

log = logging.getLogger("bot")
EXIT_CONFIG = 2


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: `serve` owns Ctrl-C and stops things in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def load_settings(command: str, *, needs_github: bool) -> Settings:
    """Settings for `command`, or exit 2 with one line per missing or invalid name."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            print(f"bot {command}: invalid setting {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    missing = settings.missing_for_github() if needs_github else []
    for name in missing:
        print(f"bot {command}: missing setting {name}", file=sys.stderr)
    if missing:
        raise SystemExit(EXIT_CONFIG)
    return settings


def github_app(settings: Settings) -> GitHubApp:
    assert settings.github_app_id is not None
    return GitHubApp(settings.github_app_id, settings.private_key_pem(), settings.github_api_url)


async def serve(settings: Settings, *, with_worker: bool, with_web: bool = True) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    devserver: DevServer | None = None
    address = settings.temporal_address
    if address is None:
        devserver = DevServer(settings.temporal_state_file)
        await devserver.start()
        address = devserver.address
    try:
        client = await connect(address, settings.temporal_namespace)
        tasks: list[asyncio.Task[None]] = []
        worker = None
        if with_worker:
            worker = build_worker(
                client, settings.temporal_task_queue, activity_objects(client, github_app(settings))
            )
            tasks.append(asyncio.create_task(worker.run(), name="worker"))
        server = None
        if with_web:
            assert settings.github_webhook_secret is not None
            app = create_app(
                settings.github_webhook_secret.get_secret_value().encode(),
                TemporalStarter(client, settings.temporal_task_queue),
            )
            config = uvicorn.Config(
                app, host=settings.host, port=settings.port, log_level=settings.log_level
            )
            server = _Server(config)
            tasks.append(asyncio.create_task(server.serve(), name="web"))
        log.info("bot is up (temporal %s)", address)
        stopped = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([stopped, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopped and task.exception() is not None:
                log.error("%s stopped: %s", task.get_name(), task.exception())
        if server is not None:
            server.should_exit = True
        if worker is not None:
            await worker.shutdown()
        await asyncio.gather(*tasks, return_exceptions=True)
        stopped.cancel()
    finally:
        if devserver is not None:
            await devserver.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="The orchestrate GitHub App.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="webhook server + worker (+ embedded Temporal)")
    serve_cmd.add_argument("--no-worker", action="store_true", help="serve webhooks only")
    serve_cmd.add_argument("--port", type=int, help="listen port (default: PORT or 3000)")
    serve_cmd.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    commands.add_parser("worker", help="a Temporal worker only (needs TEMPORAL_ADDRESS)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "serve":
            settings = load_settings("serve", needs_github=True)
            overrides = {
                key: value
                for key, value in {"port": args.port, "host": args.host}.items()
                if value is not None
            }
            settings = settings.model_copy(update=overrides)
            asyncio.run(serve(settings, with_worker=not args.no_worker))
        elif args.command == "worker":
            settings = load_settings("worker", needs_github=True)
            if settings.temporal_address is None:
                print("bot worker: missing setting TEMPORAL_ADDRESS", file=sys.stderr)
                return EXIT_CONFIG
            asyncio.run(serve(settings, with_worker=True, with_web=False))
    except BotError as exc:
        print(f"bot {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
