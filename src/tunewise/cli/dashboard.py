"""``tunewise dashboard``: serve the live, read-only web dashboard of a store."""

from __future__ import annotations

import argparse

from tunewise.cli.common import Commands, add_location


def add_dashboard_parser(commands: Commands) -> None:
    from tunewise.dashboard.server import DEFAULT_HOST, DEFAULT_PORT

    dashboard = commands.add_parser(
        "dashboard", help="a live, read-only web dashboard of a store's studies"
    )
    add_location(dashboard)
    dashboard.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to bind (default {DEFAULT_HOST}: this machine only; tunnel with ssh -L)",
    )
    dashboard.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
    )
    dashboard.set_defaults(handler=dashboard_command)


def dashboard_command(args: argparse.Namespace) -> int:
    from tunewise.dashboard.server import serve

    serve(args.location, study=args.study, host=args.host, port=args.port)
    return 0
