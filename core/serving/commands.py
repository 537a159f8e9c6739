"""`python -m core serve` runs the local model server; `python -m core server
status|release|stop` looks after the one running for this data dir."""

from __future__ import annotations

import argparse
import json

from core.errors import InvalidInputError
from core.subcommands import add_command


def register(subparsers) -> None:
    from core.serving.compute import DEFAULT_WINDOW_S
    from core.serving.server import DEFAULT_IDLE_EXIT_S, ServerOptions

    serve = add_command(subparsers, "serve", "serve local models over the OpenAI chat-completions API", run_serve)
    serve.add_argument("--host", default=ServerOptions.host)
    serve.add_argument("--port", type=int, default=ServerOptions.port, help="0 picks a free port")
    serve.add_argument("--memory-gb", type=float, default=None, metavar="GB",
                       help="memory for loaded models; least recently used leave first (default: half of RAM)")
    serve.add_argument("--batch-window-ms", type=float, default=DEFAULT_WINDOW_S * 1000, metavar="MS",
                       help="how long a request waits for others to batch with")
    serve.add_argument("--parent-pid", type=int, default=None, metavar="PID",
                       help="exit once this process is gone and the server has been idle --idle-exit-s")
    serve.add_argument("--idle-exit-s", type=float, default=DEFAULT_IDLE_EXIT_S, metavar="S")

    server = subparsers.add_parser("server", help="the running model server: status, release, stop")
    commands = server.add_subparsers(dest="server_command", metavar="COMMAND", required=True)
    status = add_command(commands, "status", "where the server runs, its models and batches", run_status)
    status.add_argument("--json", action="store_true")
    add_command(commands, "release", "drop the server's loaded models (e.g. before a GPU training job)", run_release)
    add_command(commands, "stop", "stop the server", run_stop)


def run_serve(args: argparse.Namespace) -> int:
    from core.serving.server import ServerOptions, serve

    if args.memory_gb is not None and args.memory_gb <= 0:
        raise InvalidInputError("--memory-gb must be more than 0.")
    if args.batch_window_ms < 0:
        raise InvalidInputError("--batch-window-ms cannot be negative.")
    budget = int(args.memory_gb * 1024 ** 3) if args.memory_gb else None
    serve(ServerOptions(host=args.host, port=args.port, budget_bytes=budget, window_s=args.batch_window_ms / 1000,
                        parent_pid=args.parent_pid, idle_exit_s=args.idle_exit_s))
    return 0


def run_status(args: argparse.Namespace) -> int:
    from core.serving.lifecycle import health, running_server

    record = running_server()
    if record is None:
        print(json.dumps({"running": False}) if args.json else "No model server runs for this data dir.")
        return 1
    report = health(record.url)
    if args.json:
        print(json.dumps({"running": True, "url": record.url, "pid": record.pid, **report}, indent=2))
        return 0
    stats = report.get("stats", {})
    print(f"Model server at {record.url}/v1 (pid {record.pid}): {stats.get('requests', 0)} requests in "
          f"{stats.get('generate_batch_calls', 0)} batches, idle {stats.get('idle_s', 0)} s")
    for model in report.get("models", []):
        print(f"  {model['spec']}  {model['model']}  {model['bytes'] / 1024 ** 2:.0f} MiB  "
              f"{model['device']} {model['dtype']}")
    return 0


def run_release(_args: argparse.Namespace) -> int:
    from core.serving.lifecycle import release_server_models, running_server

    if running_server() is None:
        print("No model server runs for this data dir: nothing to release.")
        return 0
    released = release_server_models()
    print(f"Released {len(released)} model(s)" + (f": {', '.join(released)}" if released else "."))
    return 0


def run_stop(_args: argparse.Namespace) -> int:
    from core.serving.lifecycle import stop_server

    record = stop_server()
    print(f"Stopped the model server at {record.url} (pid {record.pid})." if record
          else "No model server runs for this data dir.")
    return 0
