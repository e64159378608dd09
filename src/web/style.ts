import type { FastifyInstance } from 'fastify';

/** The console's own stylesheet (no CDN: these hosts have no internet). */
export const STYLESHEET = `
:root { --fg: #1d2330; --muted: #5c6475; --line: #d9dde5; --bg: #f6f7f9; --accent: #1f5fbf; --warn: #8a5a00; --warn-bg: #fff6dc; --bad: #a8261b; --bad-bg: #fdecea; --ok: #1b6e3a; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header.top { display: flex; gap: 1.2em; align-items: center; padding: .6em 1.5em; background: #fff; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
header.top .brand { font-weight: 600; margin-right: 1em; }
header.top nav a { margin-right: 1em; }
header.top .who { margin-left: auto; color: var(--muted); }
header.top form { display: inline; }
main { padding: 1em 1.5em 3em; max-width: 1200px; }
h1 { font-size: 1.4em; margin: .4em 0 .6em; }
h2 { font-size: 1.1em; margin: 1.6em 0 .5em; }
a { color: var(--accent); }
a:focus, button:focus, input:focus, select:focus, textarea:focus { outline: 3px solid #8fb4ef; outline-offset: 1px; }
table { border-collapse: collapse; background: #fff; border: 1px solid var(--line); width: 100%; }
th, td { padding: .35em .6em; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef0f4; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.value { font-family: ui-monospace, monospace; font-size: .9em; word-break: break-all; }
.status { display: inline-block; padding: 0 .5em; border-radius: 3px; font-size: .9em; }
.status.accepted { background: #e3f4e8; color: var(--ok); } .status.rejected { background: var(--bad-bg); color: var(--bad); }
.status.held { background: var(--warn-bg); color: var(--warn); } .status.duplicate { background: #eceef2; color: var(--muted); }
.notice { padding: .6em .9em; border-radius: 4px; margin: .8em 0; border: 1px solid; }
.notice.warn { background: var(--warn-bg); border-color: #e8c46a; }
.notice.error { background: var(--bad-bg); border-color: #e5a39c; }
.notice.ok { background: #e3f4e8; border-color: #9fd1ad; }
.empty { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; background: #fff; border: 1px solid var(--line); padding: .8em 1em; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; }
form.inline { display: inline; }
form.panel { background: #fff; border: 1px solid var(--line); padding: 1em; margin: 1em 0; max-width: 640px; }
form.panel label { display: block; margin: .5em 0 .2em; font-weight: 600; }
input[type=text], input[type=password], select, textarea { font: inherit; padding: .3em .4em; border: 1px solid #aab1bf; border-radius: 3px; min-width: 16em; }
textarea { width: 100%; min-height: 4em; }
button { font: inherit; padding: .35em .9em; border: 1px solid var(--accent); background: var(--accent); color: #fff; border-radius: 3px; cursor: pointer; }
button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--bad); border-color: var(--bad); }
.filters { display: flex; gap: .8em; align-items: end; margin-bottom: .8em; flex-wrap: wrap; }
.filters label { display: block; font-size: .9em; color: var(--muted); }
.pager { margin: .6em 0; display: flex; gap: 1em; align-items: center; }
.counts td { min-width: 6em; }
.login { max-width: 360px; margin: 4em auto; }
.arrow { color: var(--muted); padding: 0 .3em; }
`;

export function registerStyle(app: FastifyInstance): void {
  app.get('/static/console.css', { config: { public: true } }, async (_request, reply) => {
    return reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLESHEET);
  });
}
