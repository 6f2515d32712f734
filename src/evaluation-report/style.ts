/** The report's inline stylesheet: readable on screen and in print, no web fonts (nothing to fetch). */

/**
 * CSS embedded in every report.
 *
 * @example
 * ```ts
 * const head = `<style>${REPORT_CSS}</style>`;
 * ```
 */
export const REPORT_CSS = `
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d7dce2; --accent: #0b5cad; --ok: #1a7f37; --bad: #c62828; }
* { box-sizing: border-box; }
body { font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--fg); margin: 0 auto; max-width: 1280px; padding: 16px 28px 48px; }
h1 { font-size: 22px; margin: 8px 0 4px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--accent); padding-bottom: 4px; margin-top: 32px; }
h3 { font-size: 14px; margin: 14px 0 6px; }
nav a { color: var(--accent); text-decoration: none; }
.muted { color: var(--muted); }
code { font-size: 12px; background: #f3f5f7; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px 3px 0; text-align: left; vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
table.metrics td:nth-child(2) { font-variant-numeric: tabular-nums; font-weight: 600; }
.cols { display: flex; flex-wrap: wrap; gap: 32px; }
.cols > div { flex: 1 1 320px; min-width: 0; }
.figs { display: flex; flex-wrap: wrap; gap: 18px; align-items: flex-start; }
figure { margin: 0; border: 1px solid var(--line); padding: 8px; border-radius: 4px; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.samples { display: grid; grid-template-columns: repeat(auto-fill, minmax(290px, 1fr)); gap: 14px; }
.sample { border: 1px solid var(--line); border-radius: 4px; padding: 8px; }
.pair { display: flex; gap: 6px; }
img.px { width: 134px; height: 134px; image-rendering: pixelated; border: 1px solid var(--line); }
.cap { font-size: 12.5px; margin-top: 6px; }
.ok, .bad { color: #fff; font-size: 11px; padding: 1px 6px; border-radius: 8px; }
.ok { background: var(--ok); }
.bad { background: var(--bad); }
.legend { display: flex; align-items: center; gap: 8px; font-size: 12px; color: var(--muted); margin: 0 0 10px; }
.legend img { width: 220px; height: 12px; image-rendering: pixelated; border: 1px solid var(--line); }
.warn { border-left: 4px solid #e0a800; background: #fff8e1; padding: 6px 12px; }
@media print { body { max-width: none; padding: 0; } section { break-inside: avoid-page; } }
`;
