"""`bot serve`, `bot worker`: the process entry points."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import uvicorn
from pydantic import ValidationError
from temporalio.client import Client

from bot.agents.model import AnthropicModel
from bot.app.devserver import DevServer
from bot.app.environment import environment_options
from bot.app.local_run import run_locally
from bot.app.settings import Settings
from bot.app.temporal import connect
from bot.app.worker import build_worker, command_activities, run_activities, sweep_after_crashes
from bot.errors import BotError
from bot.github.app import GitHubApp
from bot.github.forge import GitHubForge
from bot.render import states
from bot.webhooks.app import create_app
from bot.webhooks.starter import TemporalStarter

log = logging.getLogger("bot")
EXIT_CONFIG = 2


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture: `serve` owns Ctrl-C and stops things in order."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def load_settings(command: str, *, web: bool = False, worker: bool = False) -> Settings:
    """Settings for `command`, or exit 2 with one line per missing or invalid name."""
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]).upper() if error["loc"] else "?"
            print(f"bot {command}: invalid setting {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None
    missing = settings.missing(web=web, worker=worker)
    for name in missing:
        print(f"bot {command}: missing setting {name}", file=sys.stderr)
    if missing:
        raise SystemExit(EXIT_CONFIG)
    return settings


def model_client(settings: Settings) -> AnthropicModel:
    assert settings.anthropic_api_key is not None
    return AnthropicModel(
        api_key=settings.anthropic_api_key.get_secret_value(), base_url=settings.anthropic_base_url
    )


@contextlib.asynccontextmanager
async def temporal_client(settings: Settings) -> AsyncIterator[Client]:
    """A client of TEMPORAL_ADDRESS, or of an embedded dev server started for the duration."""
    devserver: DevServer | None = None
    address = settings.temporal_address
    if address is None:
        devserver = DevServer(settings.temporal_state_file)
        await devserver.start()
        address = devserver.address
    try:
        api_key = settings.temporal_api_key
        yield await connect(
            address,
            settings.temporal_namespace,
            api_key=api_key.get_secret_value() if api_key else None,
            tls=settings.temporal_tls,
            timeout=settings.temporal_connect_timeout,
        )
    finally:
        if devserver is not None:
            await devserver.stop()


async def run_local(settings: Settings, repo: Path, task: str) -> int:
    async with temporal_client(settings) as client:
        progress, _ = await run_locally(
            client,
            repo,
            task,
            model=model_client(settings),
            data_dir=settings.bot_data_dir,
            environment=environment_options(settings),
        )
    return 0 if states.succeeded(progress.state) else 1


def github_app(settings: Settings) -> GitHubApp:
    assert settings.github_app_id is not None
    return GitHubApp(settings.github_app_id, settings.private_key_pem(), settings.github_api_url)


async def serve(settings: Settings, *, with_worker: bool, with_web: bool = True) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    async with temporal_client(settings) as client:
        tasks: list[asyncio.Task[None]] = []
        worker = None
        if with_worker:
            forge = GitHubForge(github_app(settings))
            await sweep_after_crashes(settings.bot_data_dir, environment_options(settings))
            activities = command_activities(client, forge) + run_activities(
                client,
                forge,
                model_client(settings),
                settings.bot_data_dir,
                settings.price_table(),
                environment_options(settings),
            )
            worker = build_worker(client, settings.temporal_task_queue, activities)
            tasks.append(asyncio.create_task(worker.run(), name="worker"))
        server = None
        if with_web:
            assert settings.github_webhook_secret is not None
            web = create_app(
                settings.github_webhook_secret.get_secret_value().encode(),
                TemporalStarter(client, settings.temporal_task_queue),
            )
            config = uvicorn.Config(
                web, host=settings.host, port=settings.port, log_level=settings.log_level
            )
            server = _Server(config)
            tasks.append(asyncio.create_task(server.serve(), name="web"))
        log.info("bot is up")
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bot", description="The orchestrate GitHub App.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="webhook server + worker (+ embedded Temporal)")
    serve_cmd.add_argument("--no-worker", action="store_true", help="serve webhooks only")
    serve_cmd.add_argument("--port", type=int, help="listen port (default: PORT or 3000)")
    serve_cmd.add_argument("--host", help="listen address (default: HOST or 127.0.0.1)")
    commands.add_parser("worker", help="a Temporal worker only (needs TEMPORAL_ADDRESS)")
    run_cmd = commands.add_parser("run", help="run a task against a local repository, no GitHub")
    run_cmd.add_argument("--repo", type=Path, default=Path("."), help="the git repository")
    run_cmd.add_argument("task", help="what to do")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        if args.command == "serve":
            settings = load_settings("serve", web=True, worker=not args.no_worker)
            overrides = {
                key: value
                for key, value in {"port": args.port, "host": args.host}.items()
                if value is not None
            }
            settings = settings.model_copy(update=overrides)
            asyncio.run(serve(settings, with_worker=not args.no_worker))
        elif args.command == "worker":
            settings = load_settings("worker", worker=True)
            if settings.temporal_address is None:
                print("bot worker: missing setting TEMPORAL_ADDRESS", file=sys.stderr)
                return EXIT_CONFIG
            asyncio.run(serve(settings, with_worker=True, with_web=False))
        elif args.command == "run":
            settings = load_settings("run")
            if settings.anthropic_api_key is None:
                print("bot run: missing setting ANTHROPIC_API_KEY", file=sys.stderr)
                return EXIT_CONFIG
            if not (args.repo / ".git").exists():
                print(f"bot run: {args.repo} is not a git repository", file=sys.stderr)
                return EXIT_CONFIG
            return asyncio.run(run_local(settings, args.repo, args.task))
    except BotError as exc:
        print(f"bot {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
