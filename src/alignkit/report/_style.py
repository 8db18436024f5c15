"""The HTML report's inline stylesheet and its one small script."""

from __future__ import annotations

from alignkit.report._format import SEVERITY_COLOURS

__all__ = ["CSS", "SCRIPT"]

_BADGES = "\n".join(
    f".sev-{sev.value} {{ background: {bg}; color: {fg}; }}\n"
    f".card.sev-border-{sev.value} {{ border-left-color: {bg}; }}"
    for sev, (bg, fg) in SEVERITY_COLOURS.items()
)

CSS = (
    """
:root { --ink: #111827; --muted: #4b5563; --faint: #6b7280; --line: #e5e7eb;
  --panel: #f9fafb; --accent: #1d4ed8; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--ink); background: #f3f4f6; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
  overflow-wrap: break-word; }
main { max-width: 1100px; margin: 0 auto; padding: 28px 28px 48px; background: #fff;
  min-height: 100vh; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 12px; padding-bottom: 6px;
  border-bottom: 2px solid var(--ink); }
h3 { font-size: 17px; margin: 0; }
h4 { font-size: 14px; margin: 18px 0 6px; text-transform: uppercase; letter-spacing: .04em;
  color: var(--muted); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 0.9em; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
.subtitle { color: var(--muted); margin: 0 0 18px; font-size: 16px; }
.meta { display: grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr));
  gap: 8px 24px; margin: 0; padding: 14px 16px; background: var(--panel);
  border: 1px solid var(--line); border-radius: 8px; }
.meta div { min-width: 0; }
.meta dt { font-size: 12px; text-transform: uppercase; letter-spacing: .05em;
  color: var(--faint); }
.meta dd { margin: 0; font-weight: 500; overflow-wrap: anywhere; }
.badge { display: inline-block; min-width: 64px; padding: 2px 8px; border-radius: 999px;
  font-size: 12px; font-weight: 700; text-align: center; text-transform: uppercase;
  letter-spacing: .04em; white-space: nowrap; print-color-adjust: exact;
  -webkit-print-color-adjust: exact; }
.tally { display: flex; flex-wrap: wrap; gap: 10px; margin: 0 0 14px; padding: 0;
  list-style: none; }
.tally li { display: flex; align-items: center; gap: 6px; color: var(--muted); }
table { width: 100%; border-collapse: collapse; font-size: 14px; }
th, td { text-align: left; padding: 8px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .05em; color: var(--faint);
  background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: var(--muted); }
.small { font-size: 13px; }
.group { margin: 26px 0 8px; }
.group-head { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
.group-head .id { color: var(--faint); }
.definition { color: var(--muted); margin: 6px 0 10px; max-width: 80ch; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0 12px; }
.chip { font-size: 12px; padding: 1px 8px; border: 1px solid var(--line); border-radius: 4px;
  color: var(--muted); background: #fff; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--line); border-radius: 8px;
  padding: 14px 16px; margin: 12px 0; break-inside: avoid; background: #fff; }
.card-head { display: flex; align-items: baseline; gap: 10px; flex-wrap: wrap; }
.card-head .metric { font-size: 16px; font-weight: 600; }
.card-head .check { color: var(--faint); margin-left: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 24px; margin: 4px 0 0; }
.stats { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr));
  gap: 4px 18px; margin: 10px 0; }
.stats dt { font-size: 12px; color: var(--faint); text-transform: uppercase;
  letter-spacing: .04em; }
.stats dd { margin: 0; font-variant-numeric: tabular-nums; font-weight: 500; }
.stats .value { font-size: 22px; font-weight: 700; line-height: 1.2; }
.why { margin: 6px 0; }
.ladder { display: flex; flex-wrap: wrap; gap: 6px; margin: 6px 0 4px; padding: 0;
  list-style: none; font-size: 12px; }
.ladder li { padding: 1px 8px; border-radius: 4px; border: 1px solid var(--line);
  color: var(--muted); }
.ladder li.earned { border-color: var(--ink); color: var(--ink); font-weight: 700; }
.note { font-size: 13px; color: #92400e; background: #fffbeb; border: 1px solid #fde68a;
  border-radius: 6px; padding: 4px 8px; margin: 6px 0; }
details { margin: 8px 0; }
summary { cursor: pointer; color: var(--accent); font-weight: 500; }
.evidence { margin: 8px 0 4px; padding: 8px 10px; background: var(--panel);
  border: 1px solid var(--line); border-radius: 6px; break-inside: avoid;
  overflow-wrap: anywhere; }
.evidence .label { font-size: 11px; text-transform: uppercase; letter-spacing: .05em;
  color: var(--faint); margin-top: 4px; }
.evidence pre { margin: 2px 0 4px; white-space: pre-wrap; overflow-wrap: anywhere; }
.mitigation { margin: 10px 0 0; padding: 8px 12px; border-radius: 6px; background: #eff6ff;
  border: 1px solid #bfdbfe; }
.mitigation ul { margin: 4px 0 0; padding-left: 20px; }
.mitigation, .group-head, .definition { break-inside: avoid; }
.group-head { break-after: avoid; }
figure { margin: 16px 0; padding: 10px; border: 1px solid var(--line); border-radius: 8px;
  break-inside: avoid; }
figure svg { display: block; max-width: 760px; height: auto; }
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.gov-function { margin: 18px 0; break-inside: avoid-page; }
.gov-sub { margin: 8px 0 8px 0; padding: 8px 12px; border: 1px solid var(--line);
  border-radius: 6px; break-inside: avoid; }
.gov-sub ul { margin: 6px 0 0; padding-left: 0; list-style: none; }
.gov-sub li { display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; padding: 2px 0; }
.errors pre { margin: 0; white-space: pre-wrap; overflow-wrap: anywhere; color: #7f1d1d; }
.toolbar { float: right; display: flex; gap: 6px; margin-top: -4px; }
.toolbar button { font: inherit; font-size: 12px; padding: 2px 10px; border-radius: 4px;
  border: 1px solid var(--line); background: #fff; cursor: pointer; color: var(--muted); }
.empty { color: var(--muted); font-style: italic; }
footer { margin-top: 48px; padding-top: 10px; border-top: 1px solid var(--line);
  color: var(--faint); font-size: 12px; }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .toolbar, summary { display: none; }
  h2 { break-after: avoid; }
  a { color: inherit; }
  .card, figure, .gov-sub { break-inside: avoid; }
}
"""
    + _BADGES
    + "\n"
)

# Opens every collapsed block before printing; the report reads fine without it.
SCRIPT = (
    "function alignkitToggle(open){document.querySelectorAll('details')"
    ".forEach(function(d){d.open=open;});}"
    "window.addEventListener('beforeprint',function(){alignkitToggle(true);});"
)
