"""``specc report``: one self-contained HTML page (charts embedded as PNG) plus a PNG file per chart.

Why one file with embedded images: a report is attached to a pull request, mailed or opened from CI
artifacts, where sibling files get lost. The PNGs are also written beside it for READMEs and slides.
Every value from a build is HTML-escaped. The page has no scripts and no external resources.
"""

from __future__ import annotations

import base64
import html
import os
from pathlib import Path

from specc.run.reportdata import Arm, read_arms

REPORT_NAME = "report.html"


def _e(x: object) -> str:
    return html.escape(str(x), quote=True)


def _arm_table(arms: list[Arm]) -> str:
    rows = []
    for a in arms:
        verdict = "passed" if a.passed == a.runs else ("failed" if a.passed == 0 else "mixed")
        rows.append(
            f"<tr><td>{_e(a.label)}</td><td>{_e(a.builds[0].method)} / {_e(a.builds[0].budget)}</td>"
            f"<td>{a.runs}</td><td>{_e(a.target_before.text())} → {_e(a.target_after.text())}</td>"
            f"<td>{a.bar_met}/{a.runs}</td><td class='{verdict}'>{a.passed}/{a.runs} {verdict}</td></tr>")
    return ("<table><tr><th>arm</th><th>method / budget</th><th>runs (seeds)</th>"
            f"<th>target {_e(arms[0].metric if arms else '')} before → after (mean ± sd)</th>"
            "<th>bar met</th><th>forgetting gate</th></tr>" + "".join(rows) + "</table>")


def _suite_table(arm: Arm) -> str:
    rows = "".join(
        f"<tr><td>{_e(s.name)}</td><td>{_e(s.before.text())}</td><td>{_e(s.after.text())}</td>"
        f"<td>{'n/a' if s.limit is None else f'{s.limit:.3f}'}</td>"
        f"<td class='{'failed' if s.regressed else 'passed'}'>{s.regressed}/{s.runs}</td></tr>" for s in arm.suites)
    return ("<table><tr><th>suite</th><th>before</th><th>after</th><th>budget limit</th>"
            "<th>runs regressed</th></tr>" + rows + "</table>")


def _member_table(arm: Arm) -> str:
    """A golden set given as a list: the target per member (the bar judges the union, in the table above)."""
    if not arm.members:
        return ""
    rows = "".join(f"<tr><td><code>{_e(m.name)}</code></td><td>{_e('n/a' if m.rows is None else m.rows)}</td>"
                   f"<td>{_e(m.before.text())}</td><td>{_e(m.after.text())}</td></tr>" for m in arm.members)
    return (f"<h4>Target {_e(arm.metric)} per golden-set member</h4><table><tr><th>member</th><th>rows</th>"
            "<th>before</th><th>after</th></tr>" + rows
            + f"<tr><th>union (judged)</th><th></th><th>{_e(arm.target_before.text())}</th>"
            f"<th>{_e(arm.target_after.text())}</th></tr></table>")


def _verdicts(arm: Arm, base: Path | None) -> str:
    items = []
    for b in arm.builds:
        r = b.results or {}
        head = "PASSED" if r.get("passed") else ("FAILED" if r.get("passed") is False else b.state)
        seed = "" if b.seed is None else f"seed {b.seed}: "
        reasons = "".join(f"<li>{_e(x)}</li>" for x in r.get("reasons") or [])
        where = os.path.relpath(b.path.resolve(), base.resolve()) if base is not None else b.path
        items.append(f"<li><b>{_e(seed)}{_e(head)}</b> <code>{_e(where)}</code><ul>{reasons}</ul></li>")
    return "<ul>" + "".join(items) + "</ul>"


def _decisions(arm: Arm) -> str:
    b = arm.builds[0]
    rows = "".join(f"<tr><td><code>{_e(d.get('rule'))}</code></td><td>{_e(d.get('verdict'))}</td>"
                   f"<td>{_e(d.get('reason'))}</td></tr>" for d in b.decisions)
    recs = "".join(f"<li>{_e(r)}</li>" for r in b.recommendations)
    return ("<table><tr><th>rule</th><th>decision</th><th>why</th></tr>" + rows + "</table>"
            + (f"<p>Recommendations:</p><ul>{recs}</ul>" if recs else ""))


CAPTIONS = {
    "suites": "Bars: mean over seeds, whiskers ± one standard deviation, dots: each seed. Dashed line: the worst "
              "score the forgetting budget allows (the tighter of the absolute and relative caps). Hatched: the "
              "mean is past that line; the gate may still pass a run whose drop is within its noise allowance "
              "(2 combined standard errors), as the verdicts below say.",
    "target": "Bars: mean over seeds, whiskers ± one standard deviation, dots: each seed; dashed line: the bar.",
}

CSS = """body{font-family:system-ui,sans-serif;margin:24px;max-width:1300px;color:#222}
table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;
text-align:left;vertical-align:top}th{background:#f3f3f3}.passed{color:#1a7f37}.failed{color:#c0392b}
.mixed{color:#b8860b}figure{margin:12px 0 24px}img{max-width:100%;border:1px solid #eee}
.conclusion{white-space:pre-line}.arms{display:flex;gap:18px;flex-wrap:wrap}.arm{flex:1 1 380px;min-width:340px}code{font-size:12px}"""


def render_html(arms: list[Arm], charts: dict[str, bytes], titles: dict[str, str], conclusion: str = "",
                base: Path | None = None) -> str:
    """The page; build paths are shown relative to ``base`` (the report's directory) when given."""
    figures = "".join(
        f"<figure id='chart-{_e(cid)}'><h2>{_e(titles[cid])}</h2>"
        f"<img alt='{_e(titles[cid])}' title='{_e(titles[cid])}' "
        f"src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>"
        f"{'<figcaption>' + _e(CAPTIONS[cid]) + '</figcaption>' if cid in CAPTIONS else ''}</figure>"
        for cid, png in charts.items())
    per_arm = "".join(
        f"<div class='arm'><h3>{_e(a.label)} <small>({_e(a.name)})</small></h3>"
        f"{_member_table(a)}<h4>General suites</h4>{_suite_table(a)}<h4>Gate verdict per run</h4>{_verdicts(a, base)}"
        f"<h4>The plan's decisions and their rules</h4>{_decisions(a)}</div>" for a in arms)
    title = "specc report: " + ", ".join(a.label for a in arms)
    concl = f"<p class='conclusion'><b>{_e(conclusion)}</b></p>" if conclusion else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>{concl}{_arm_table(arms)}{figures}"
            f"<h2>Arms side by side</h2><div class='arms'>{per_arm}</div></body></html>\n")


def write_report(builds: list[str | Path], out_dir: str | Path, *, labels: dict[str, str] | None = None,
                 conclusion: str = "") -> Path:
    """Read ``builds``, draw the charts and write ``out_dir/report.html`` and ``out_dir/<chart>.png``.

    Imports matplotlib (through :mod:`specc.run.charts`): call it only from the report command.
    """
    from specc.run.charts import TITLES, draw_all

    arms = read_arms(list(builds), labels)
    charts = draw_all(arms)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for cid, png in charts.items():
        (out / f"{cid}.png").write_bytes(png)
    path = out / REPORT_NAME
    path.write_text(render_html(arms, charts, TITLES, conclusion, out), encoding="utf-8")
    return path
