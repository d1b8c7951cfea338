"""The self-contained HTML page: inline CSS, PNGs as base64 data URIs, no external JS, CSS or fonts.

A short inline script marks, once the page has loaded, each plot ``<img>`` with ``data-decoded="yes"``
and its ``naturalWidth``, and ``<body data-plots-decoded="k/n">``: a headless browser's DOM dump then
shows whether every image decoded (the report test reads it).
"""

from __future__ import annotations

import base64
import html
from datetime import datetime

from srpo.report.plots import FigureSpec, run_colour
from srpo.report.summary import TAIL, SummaryRow

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1500px; padding: 16px 28px 48px; color: #222; background: #fafafa; }
h1 { font-size: 1.6em; margin: 0.4em 0 0.1em; }
h2 { font-size: 1.2em; margin: 0 0 0.2em; }
.meta { color: #666; font-size: 0.9em; margin: 0 0 1em; }
nav { margin: 0.8em 0 1.2em; font-size: 0.9em; }
nav a { margin-right: 1em; color: #1f5fa8; text-decoration: none; }
table { border-collapse: collapse; font-size: 0.9em; background: white; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: right; }
th { background: #f0f0f0; }
thead tr:first-child th:first-child { text-align: left; }
td.run { text-align: left; white-space: nowrap; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px;
          vertical-align: -1px; }
section { background: white; border: 1px solid #e4e4e4; border-radius: 6px; padding: 14px 18px;
          margin: 18px 0; }
.caption { color: #555; font-size: 0.9em; margin: 0 0 8px; }
img.plot { max-width: 100%; height: auto; display: block; }
.na { color: #aaa; }
"""

CHECK_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = document.querySelectorAll('img.plot'), ok = 0;
  for (var i = 0; i < imgs.length; i++) {
    var good = imgs[i].complete && imgs[i].naturalWidth > 0;
    imgs[i].setAttribute('data-decoded', good ? 'yes' : 'no');
    imgs[i].setAttribute('data-natural-width', String(imgs[i].naturalWidth));
    if (good) ok++;
  }
  document.body.setAttribute('data-plots-decoded', ok + '/' + imgs.length);
});
"""


def _fmt(value: float | None, digits: int = 3) -> str:
    return '<span class="na">–</span>' if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return '<span class="na">–</span>' if value is None else f"{100 * value:.1f}%"


def summary_table(rows: list[SummaryRow], reward_domains: list[str], eval_domains: list[str]) -> str:
    head1 = ['<th rowspan="2">run</th>', '<th rowspan="2">last step</th>', '<th rowspan="2">stage changes</th>']
    head2 = []
    if reward_domains:
        head1.append(f'<th colspan="{len(reward_domains)}">final reward (mean of last {TAIL} steps)</th>')
        head2 += [f"<th>{html.escape(d)}</th>" for d in reward_domains]
    if eval_domains:
        head1.append(f'<th colspan="{len(eval_domains)}">last held-out pass@1 (step)</th>')
        head2 += [f"<th>{html.escape(d)}</th>" for d in eval_domains]
    head1.append('<th rowspan="2">zero-adv. groups (mean)</th>')
    body = []
    for i, row in enumerate(rows):
        stages = ", ".join(f"stage {k} @ {s}" for s, k in row.stage_starts) or '<span class="na">none</span>'
        cells = [
            f'<td class="run"><span class="swatch" style="background:{run_colour(i)}"></span>'
            f"{html.escape(row.label)}</td>",
            f"<td>{row.last_step if row.last_step is not None else '–'}</td>",
            f"<td>{stages}</td>",
        ]
        cells += [f"<td>{_fmt(row.final_reward[d])}</td>" for d in reward_domains]
        for d in eval_domains:
            ev = row.last_eval[d]
            cells.append(f"<td>{_pct(ev[1])} ({ev[0]})</td>" if ev else f"<td>{_pct(None)}</td>")
        cells.append(f"<td>{_pct(row.zero_adv_mean)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        '<table class="summary"><thead><tr>' + "".join(head1) + "</tr><tr>" + "".join(head2)
        + "</tr></thead><tbody>" + "".join(body) + "</tbody></table>"
    )


def figure_section(spec: FigureSpec, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<section id="fig-{spec.name}"><h2>{html.escape(spec.title)}</h2>'
        f'<p class="caption">{html.escape(spec.caption)}</p>'
        f'<img class="plot" id="plot-{spec.name}" alt="{html.escape(spec.title)}" '
        f'src="data:image/png;base64,{data}"></section>'
    )


def page(run_labels: list[str], table: str, sections: list[tuple[FigureSpec, bytes]]) -> str:
    nav = "".join(f'<a href="#fig-{s.name}">{html.escape(s.title)}</a>' for s, _ in sections)
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    runs = ", ".join(html.escape(label) for label in run_labels)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>srpo report: {runs}</title><style>{CSS}</style></head>\n<body>"
        f'<h1>srpo training report</h1><p class="meta">{len(run_labels)} run(s): {runs} · generated {when}</p>'
        f"{table}<nav>{nav}</nav>\n"
        + "\n".join(figure_section(spec, png) for spec, png in sections)
        + f"\n<script>{CHECK_SCRIPT}</script></body></html>\n"
    )
