"""Merge `tunewise bench` result tables into one for `tunewise analyze`.

Two sweeps that ran the same tasks in different forms (NB201 as a grammar and as six flat
categoricals, ``nb201-cifar10`` and ``nb201-cifar10-flat``) or with different priors (BO without
priors beside piBO with a good prior) are one comparison: ``--rename`` maps benchmark names onto
the task they stand for, ``--keep-prior`` keeps the rows of the priors compared, and
``tunewise analyze --task-columns benchmark`` then compares the algorithms on the same tasks.

    python benchmarks/merge_results.py A/results.parquet B/results.parquet --out merged.parquet \
        --rename nb201-cifar10-flat=nb201-cifar10 --keep-prior none good --algorithms BO-WL piBO
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd


def _pairs(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise SystemExit(f"merge_results: {what} must be OLD=NEW, got {item!r}")
        out[key] = value
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tables", nargs="+", type=Path, help="result tables (.parquet or .csv)")
    parser.add_argument("--out", type=Path, required=True, help="the merged table (.parquet)")
    parser.add_argument("--rename", nargs="*", default=[], help="benchmark renames OLD=NEW")
    parser.add_argument(
        "--keep-prior", nargs="*", default=None, help="keep only rows with these priors"
    )
    parser.add_argument(
        "--algorithms", nargs="*", default=None, help="keep only rows of these algorithm labels"
    )
    args = parser.parse_args()
    frames = [pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p) for p in args.tables]
    merged = pd.concat(frames, ignore_index=True)
    merged["benchmark"] = merged["benchmark"].replace(_pairs(args.rename, "--rename"))
    if args.keep_prior is not None:
        merged = merged[merged["prior"].isin(args.keep_prior)]
    if args.algorithms is not None:
        merged = merged[merged["algorithm"].isin(args.algorithms)]
    if merged.empty:
        raise SystemExit("merge_results: no rows left after --keep-prior / --algorithms")
    key = ["algorithm", "benchmark", "prior", "seed", "budget"]
    duplicated = merged.duplicated(subset=key)
    if duplicated.any():
        raise SystemExit(
            f"merge_results: {int(duplicated.sum())} rows share algorithm, benchmark, prior, seed "
            "and budget; give the sweeps different algorithm labels"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    merged.to_parquet(args.out, index=False)
    counts = merged.groupby(["algorithm", "prior"])["seed"].nunique().to_dict()
    print(f"{len(merged)} rows -> {args.out}; seeds per (algorithm, prior): {counts}")


if __name__ == "__main__":
    main()
