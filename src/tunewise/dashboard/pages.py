"""The dashboard's HTML: small page shells that ``static/dashboard.js`` fills from the JSON API.

Every value put into a page passes through :func:`html.escape` (study names, configs and error
texts are the user's). A page carries what its script needs in ``data-`` attributes of
``<body>``; the figures and tables come from the API, so the HTML of a 10,000-trial study is as
small as that of a one-trial study.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

POLL_SECONDS = 2.0
"""How often a page asks the server what changed."""

STUDY_SECTIONS = (
    ("trace-budget", "Incumbent over budget (full-fidelity evaluations)"),
    ("trace-time", "Incumbent over wall time"),
    ("points", "All finished trials, coloured by fidelity"),
    ("curves", "Learning curves (running and latest finished trials)"),
    ("rungs", "Rungs: trials per fidelity, promotions and where each trial came from"),
    ("parallel", "Parallel coordinates (succeeded trials)"),
    ("importance", "Parameter importance"),
)


def study_path(name: str) -> str:
    return f"/study/{quote(name, safe='')}"


def _layout(*, title: str, where: str, body: str, data: dict[str, Any]) -> str:
    """The page around ``body``; ``data`` becomes the ``data-`` attributes of ``<body>``."""
    attributes = " ".join(f'data-{k}="{escape(str(v))}"' for k, v in data.items())
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{escape(title)} · tunewise</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/dashboard.css">
<script src="/static/plotly.min.js"></script>
<script src="/static/dashboard.js" defer></script>
</head>
<body {attributes}>
<header>
<a class="brand" href="/studies">tunewise</a>
<span class="where" title="the store (read only)">{escape(where)}</span>
<span id="live" class="live">live</span>
</header>
<main>
{body}
</main>
</body>
</html>
"""


@dataclass(frozen=True)
class Shell:
    """The pages of one dashboard: where its store is (shown in the header) and how often its
    pages poll."""

    where: str
    poll_seconds: float = POLL_SECONDS

    def _page(self, *, title: str, body: str, data: dict[str, Any]) -> str:
        return _layout(
            title=title, where=self.where, body=body, data={**data, "poll": self.poll_seconds}
        )

    def studies(self) -> str:
        return studies_page(self)

    def study(self, *, name: str) -> str:
        return study_page(self, name=name)

    def trial(self, *, trial: dict[str, Any]) -> str:
        return trial_page(self, trial=trial)

    def compare(self, *, names: list[str]) -> str:
        return compare_page(self, names=names)

    def not_found(self, *, what: str) -> str:
        return not_found_page(self, what=what)


def studies_page(shell: Shell) -> str:
    body = """<h1>Studies</h1>
<form action="/compare" method="get">
<table id="studies" class="grid"><thead><tr>
<th>compare</th><th>study</th><th>optimizer</th><th>status</th><th>budget used / total</th>
<th>best</th><th>started</th></tr></thead><tbody></tbody></table>
<p><button type="submit">Compare selected studies</button></p>
</form>"""
    return shell._page(title="studies", body=body, data={"page": "studies"})


def study_page(shell: Shell, *, name: str) -> str:
    sections = "\n".join(
        f'<section><h2>{escape(title)}</h2><p id="{key}-caption" class="note"></p>'
        f'<div id="{key}" class="plot"></div></section>'
        for key, title in STUDY_SECTIONS
    )
    body = f"""<h1>Study {escape(name)}</h1>
<div id="summary" class="summary"></div>
<div id="rung-table"></div>
{sections}
<section><h2>Trials</h2>
<p class="controls">
<input id="filter" type="search" placeholder="filter: text, or column=value, column<value">
<select id="status-filter"><option value="">any status</option>
<option>succeeded</option><option>running</option><option>pending</option>
<option>failed</option><option>crashed</option></select>
<span id="table-count"></span>
<a href="{study_path(name)}/export.csv">CSV</a> ·
<a href="{study_path(name)}/export.parquet">parquet</a>
</p>
<table id="trials" class="grid"><thead></thead><tbody></tbody></table>
</section>"""
    return shell._page(title=name, body=body, data={"page": "study", "study": name})


def _definition(rows: list[tuple[str, str]]) -> str:
    items = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows)
    return f"<dl>{items}</dl>"


def _value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return escape(value)
    return escape(json.dumps(value, default=str))


def trial_page(shell: Shell, *, trial: dict[str, Any]) -> str:
    name = trial["study"]
    number = trial["number"]
    base = study_path(name)
    chain = " → ".join(
        f'<a href="{base}/trial/{n}">{n}</a>' if n != number else f"<b>{n}</b>"
        for n in trial["chain"]
    )
    continued = ", ".join(f'<a href="{base}/trial/{n}">{n}</a>' for n in trial["continued_by"])
    fidelity_label = "fidelity" + (
        f" ({escape(trial['fidelity_name'])})" if trial["fidelity_name"] else ""
    )
    directory = trial["directory"]
    if directory is None:
        folder = "— (the store is a URL: checkpoints live in the root folder of each worker)"
    else:
        folder = f"<code>{escape(directory)}</code>" + (
            "" if trial["directory_exists"] else " (not created: the trial saved nothing)"
        )
    overview = _definition(
        [
            ("status", f'<span id="trial-status">{escape(trial["status"])}</span>'),
            ("objective", f'<span id="trial-objective">{_value(trial["objective"])}</span>'),
            (fidelity_label, _value(trial["fidelity"])),
            ("cost", _value(trial["cost"])),
            ("chain (previous_trial)", chain),
            ("continued by", continued or "—"),
            ("retry of", _value(trial["retry_of"])),
            ("worker", _value(trial["worker"])),
            ("device", _value(trial["device"])),
            ("slot", _value(trial["slot"])),
            ("checkpoint folder", folder),
        ]
    )
    config = _definition([(k, _value(v)) for k, v in trial["config"].items()])
    info = _definition([(k, _value(v)) for k, v in trial["info"].items()]) or "—"
    error = (
        f'<pre id="trial-error" class="error">{escape(trial["error"])}</pre>'
        if trial["error"]
        else "<p>—</p>"
    )
    body = f"""<h1><a href="{base}">{escape(name)}</a> · trial {number}</h1>
<div class="columns">
<section><h2>Trial</h2>{overview}</section>
<section><h2>Config</h2><div id="trial-config">{config}</div></section>
<section><h2>Info</h2>{info}</section>
</div>
<section><h2>Learning curve</h2><div id="trial-curve" class="plot"></div></section>
<section><h2>Error</h2>{error}</section>"""
    return shell._page(
        title=f"{name} trial {number}",
        body=body,
        data={"page": "trial", "study": name, "trial": number},
    )


def compare_page(shell: Shell, *, names: list[str]) -> str:
    links = ", ".join(f'<a href="{study_path(n)}">{escape(n)}</a>' for n in names)
    body = f"""<h1>Compare studies</h1>
<p>{links}</p>
<section><h2>Incumbent over budget (full-fidelity evaluations)</h2>
<div id="compare-budget" class="plot"></div></section>
<section><h2>Incumbent over wall time</h2><div id="compare-time" class="plot"></div></section>"""
    return shell._page(
        title="compare",
        body=body,
        data={"page": "compare", "studies": json.dumps(names)},
    )


def not_found_page(shell: Shell, *, what: str) -> str:
    body = f'<h1>Not found</h1><p>{escape(what)}</p><p><a href="/studies">All studies</a></p>'
    return shell._page(title="not found", body=body, data={"page": "none"})
