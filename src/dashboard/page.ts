import type { Boot } from './client/app.ts';

/** JSON that is safe inside a <script> element: `<` never appears, so `</script>` cannot close it. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The page: a static frame the script fills from the server-sent events. */
export function dashboardPage(boot: Boot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Petrel dashboard</title>
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
<script id="petrel-boot" type="application/json">${scriptJson(boot)}</script>
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/dashboard.js" defer></script>
</head>
<body>
<header>
<h1>Petrel</h1>
<p id="connection" class="connection" role="status">Connecting to ${escapeHtml(boot.scope)}…</p>
</header>
<div id="message" class="message" role="status" aria-live="polite"></div>
<main>
<section aria-labelledby="list-title" class="list">
<h2 id="list-title">Canaries</h2>
<table>
<thead><tr><th scope="col">Name</th><th scope="col">Namespace</th><th scope="col">Phase</th><th scope="col">Weight</th><th scope="col">Age</th></tr></thead>
<tbody id="canary-rows"></tbody>
</table>
<p id="no-canaries" class="muted" hidden>No Canary in ${escapeHtml(boot.scope)} yet.</p>
</section>
<div id="detail" class="detail"></div>
</main>
<dialog id="confirm" aria-labelledby="confirm-title">
<form method="dialog">
<h2 id="confirm-title">Please confirm</h2>
<p id="confirm-text"></p>
<div class="actions">
<button type="submit" value="cancel">Cancel</button>
<button type="submit" value="confirm" id="confirm-ok">Confirm</button>
</div>
</form>
</dialog>
</body>
</html>
`;
}

/** Colours chosen for a contrast ratio of at least 4.5 against their background (WCAG AA). */
export const DASHBOARD_CSS = `
:root { color-scheme: light; --ink: #1f2937; --muted: #4b5563; --line: #d1d5db; --accent: #1d4ed8; --bad: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: #ffffff; }
header { display: flex; align-items: baseline; gap: 1.5rem; padding: 0.75rem 1.25rem; border-bottom: 1px solid var(--line); background: #f9fafb; }
h1 { font-size: 1.25rem; margin: 0; }
h2 { font-size: 1.1rem; margin: 0.5rem 0; }
h3 { font-size: 1rem; margin: 1.25rem 0 0.4rem; }
h4 { font-size: 0.95rem; margin: 0.75rem 0 0.25rem; font-weight: 600; }
main { display: grid; grid-template-columns: minmax(300px, max-content) minmax(0, 1fr); gap: 2rem; padding: 1rem 1.25rem; }
.list { min-width: 0; overflow-x: auto; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
caption { text-align: left; color: var(--muted); font-size: 0.85rem; padding-bottom: 0.25rem; }
th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
td.number { font-variant-numeric: tabular-nums; }
tr.selected { background: #eff6ff; }
a { color: var(--accent); }
a:focus-visible, button:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; }
.muted { color: var(--muted); }
.connection { margin: 0; color: #166534; font-size: 0.9rem; }
.connection.error, .message.error { color: var(--bad); }
.message { padding: 0 1.25rem; min-height: 1.5rem; margin-top: 0.5rem; }
.summary { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; margin: 0.5rem 0; }
.summary dt { color: var(--muted); }
.summary dd { margin: 0; }
.actions { display: flex; gap: 0.5rem; flex-wrap: wrap; margin: 0.75rem 0; }
button { font: inherit; padding: 0.35rem 0.9rem; border-radius: 6px; border: 1px solid var(--accent); background: #ffffff; color: var(--accent); cursor: pointer; }
button:hover:not(:disabled) { background: #eff6ff; }
button:disabled { color: #4b5563; border-color: #9ca3af; background: #f3f4f6; cursor: not-allowed; }
button[data-action="abort"]:not(:disabled) { color: var(--bad); border-color: var(--bad); }
#confirm-ok { background: var(--accent); color: #ffffff; }
dialog { border: 1px solid var(--line); border-radius: 8px; padding: 1.25rem; max-width: 32rem; color: var(--ink); }
dialog::backdrop { background: rgba(17, 24, 39, 0.4); }
.chart { min-height: 60px; color: var(--muted); }
.phase-Failed { color: var(--bad); }
.phase-Succeeded { color: #166534; }
.u-legend { font-size: 0.85rem; color: var(--ink); }
`;
