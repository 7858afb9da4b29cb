/** The page's own styles: readable tables, verdict colours, print layout (A4/Letter). */
export const PAGE_CSS = `
:root { color-scheme: light; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #57606a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #fff; }
main { max-width: 1180px; margin: 0 auto; padding: 16px 24px 48px; overflow-wrap: anywhere; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
h4 { font-size: 14px; margin: 18px 0 6px; }
.subtitle { margin: 0 0 12px; color: var(--muted); }
table { border-collapse: collapse; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: right; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; }
td.text, th.text { text-align: left; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 6px 0 12px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
[class^="level-"] { white-space: nowrap; }
.level-target { color: var(--ok); font-weight: 600; }
.level-degraded { color: var(--warn); font-weight: 600; }
.level-critical { color: var(--bad); font-weight: 600; }
ul.warnings li { color: var(--warn); }
.note { color: var(--muted); }
figure.chart { margin: 8px 0 18px; break-inside: avoid; page-break-inside: avoid; }
figure.chart figcaption { font-weight: 600; margin-bottom: 2px; }
figure.chart .plot { width: 100%; min-height: 240px; overflow: hidden; }
p.bands { margin: 2px 0; color: var(--muted); font-size: 12px; }
p.bands span { margin-right: 14px; }
p.bands i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; border: 1px solid #d0d7de; }
.uplot .u-legend { font-size: 12px; }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; page-break-after: avoid; }
  table { break-inside: avoid; page-break-inside: avoid; font-size: 11px; }
  section.depth-1 { break-before: page; page-break-before: always; }
  @page { margin: 14mm; }
}
`;
