"""``tunewise migrate``: upgrade a store written by an older tunewise to the current schema."""

from __future__ import annotations

import argparse

from tunewise.cli.common import Commands
from tunewise.storage import SCHEMA_VERSION, migrate
from tunewise.storage.errors import mask_password


def add_migrate_parser(commands: Commands) -> None:
    parser = commands.add_parser("migrate", help="upgrade a store written by an older tunewise")
    parser.add_argument(
        "location", metavar="ROOT_OR_URL", help="a root folder, SQLite file or storage URL"
    )
    parser.set_defaults(handler=migrate_command)


def migrate_command(args: argparse.Namespace) -> int:
    done = migrate(args.location)
    where = mask_password(args.location)
    if not done:
        print(f"tunewise: {where} is already at schema version {SCHEMA_VERSION}; nothing to do")
    for line in done:
        print(f"tunewise: {line}")
    if done:
        print(f"tunewise: {where} is now at schema version {SCHEMA_VERSION}")
    return 0
