"""The LMEM paper's case study on the PriorBand runs (without the data: skipped, in CI failed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.requirements import unavailable
from tunewise.analysis import lmem
from tunewise.analysis.table import load_table

DATA = Path(
    os.environ.get("TUNEWISE_PRIORBAND_DATA")  # the development checkout falls back to ../shared
    or Path(__file__).resolve().parents[3] / "shared/data/priorband_runs/priorband_data.parquet"
)


@pytest.fixture(scope="module")
def final_budget() -> lmem.InteractionTest:
    if not DATA.exists():
        unavailable(
            f"PriorBand data not found at {DATA}; set TUNEWISE_PRIORBAND_DATA to "
            "datasets/priorband_data.parquet of https://github.com/automl/lmem-significance"
        )
    frame = lmem.model_frame(load_table(DATA), budgets=[24.0])
    return lmem.interaction_test(frame, "prior")


def test_priorband_beats_random_search_with_a_good_prior(
    final_budget: lmem.InteractionTest,
) -> None:
    row = final_budget.posthoc.contrast("PB", "RS", "at25")
    assert row["better"] == "PB" and row["p_adjusted"] < 0.05
    assert final_budget.interaction.significant  # the prior changes the algorithm differences
    good = final_budget.posthoc.contrast("PB", "HB", "at25")["estimate"]
    bad = final_budget.posthoc.contrast("PB", "HB", "bad")["estimate"]
    assert good < bad < 0  # PB's lead over HB shrinks with a bad prior
