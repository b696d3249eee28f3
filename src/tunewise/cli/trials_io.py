"""``tunewise export`` and ``tunewise import``: a study's trials to a JSON-lines or CSV file, and
such a file into a study of a store (``docs/trials-format.md``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from tunewise.cli.common import Commands, add_location, open_result
from tunewise.runtime.trials_io import export_trials, import_trials
from tunewise.space import Space
from tunewise.storage.locations import split_location


def add_export_parser(commands: Commands) -> None:
    export = commands.add_parser(
        "export", help="write a study's trials to a JSON-lines or CSV file"
    )
    add_location(export)
    export.add_argument(
        "--out", required=True, type=Path, help="the file to write (.jsonl or .csv)"
    )
    export.add_argument(
        "--format", choices=["jsonl", "csv"], help="default: from the suffix of --out"
    )
    export.set_defaults(handler=export_command)


def add_import_parser(commands: Commands) -> None:
    imports = commands.add_parser(
        "import", help="record the finished trials of a trials file in a study (once)"
    )
    imports.add_argument("file", type=Path, metavar="FILE", help="a .jsonl or .csv trials file")
    imports.add_argument(
        "location",
        metavar="ROOT_OR_URL",
        help="a root folder (created if need be) or storage URL to import into",
    )
    imports.add_argument(
        "--study", help="study name (default: the root's, else the file's study name)"
    )
    imports.add_argument(
        "--space",
        type=Path,
        help="the space (YAML) of a new study; needed for a CSV file (default: the file's)",
    )
    imports.add_argument(
        "--source",
        help="name of the file's study in the imported slots (default: the file's study name, "
        "else its stem); tells apart two old studies of the same name",
    )
    imports.add_argument(
        "--optimizer",
        default="auto",
        help="optimizer a new study is created for (default: auto, what tunewise run chooses)",
    )
    imports.add_argument("--seed", type=int, help="seed of a new study (default: random)")
    imports.add_argument(
        "--format", choices=["jsonl", "csv"], help="default: from the suffix of FILE"
    )
    imports.set_defaults(handler=import_command)


def export_command(args: argparse.Namespace) -> int:
    with open_result(args.location, args.study) as result:
        written = export_trials(result, args.out, format=args.format)
        print(f"wrote {written} trials of study {result.study!r} to {args.out}")
    return 0


def import_command(args: argparse.Namespace) -> int:
    if not args.file.is_file():
        raise ValueError(f"no trials file {str(args.file)!r}")
    space = None
    if args.space is not None:
        if not args.space.is_file():
            raise ValueError(f"--space: no such file {str(args.space)!r}")
        space = Space.from_yaml(args.space)
    root, storage = split_location(args.location)
    report = import_trials(
        args.file,
        root=root,
        storage=storage,
        study=args.study,
        space=space,
        source=args.source,
        optimizer=args.optimizer,
        seed=args.seed,
        format=args.format,
    )
    made = "new study" if report.created else "study"
    print(
        f"imported {report.imported} trials into {made} {report.study!r} "
        f"({report.skipped_present} there already, {report.skipped_unfinished} unfinished "
        "left out)"
    )
    return 0
