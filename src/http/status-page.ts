import { createHash } from 'node:crypto';

/**
 * `GET /`: one self-contained page (no CDN, no external fonts: routers are often offline when
 * someone opens it). The script fetches `/api/status` every 10 s and builds the DOM with
 * `textContent` only — list names, error texts and lookup answers come from config and the network,
 * so nothing is ever parsed as HTML. The CSP pins the inline script by hash as a second fence.
 */

const STYLE = `
:root{color-scheme:light dark;--ok:#1a7f37;--bad:#cf222e;--warn:#9a6700;--mut:#6e7781;--line:#d0d7de}
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.3rem;margin:0 0 .3rem}h2{font-size:1.05rem;margin:1.6rem 0 .5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th{font-weight:600}.ok{color:var(--ok)}.bad{color:var(--bad)}.warn{color:var(--warn)}.mut{color:var(--mut)}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:1rem;border:1px solid currentColor;font-weight:600}
#problems li{color:var(--bad)}form{display:flex;gap:.5rem}input{flex:1;padding:.35rem;font:inherit}
button{padding:.35rem .9rem;font:inherit}code{font-family:ui-monospace,monospace}
`;

// Plain ES2017 without template literals: it is embedded in a TypeScript template string.
const SCRIPT = `
'use strict';
function el(tag, cls, text) { var e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = String(text); return e; }
function row(cells) { var tr = el('tr'); cells.forEach(function (c) { var td = el('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = String(c); tr.appendChild(td); }); return tr; }
function when(ms) { return ms === undefined ? 'never' : new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z'; }
function age(s) { s = Math.round(s); if (s < 60) return s + 's'; if (s < 3600) return Math.floor(s / 60) + 'm'; if (s < 86400) return Math.floor(s / 3600) + 'h ' + Math.floor((s % 3600) / 60) + 'm'; return Math.floor(s / 86400) + 'd ' + Math.floor((s % 86400) / 3600) + 'h'; }
function fill(id, nodes) { var t = document.getElementById(id); t.replaceChildren.apply(t, nodes); }
var lookupReady = false;

function render(s) {
  var a = s.assessment || { healthy: true, problems: [] };
  var badge = document.getElementById('overall');
  badge.textContent = a.healthy ? 'healthy' : 'unhealthy';
  badge.className = 'badge ' + (a.healthy ? 'ok' : 'bad');
  document.getElementById('meta').textContent = 'version ' + s.version + ' \\u00b7 up ' + age((s.generatedAt - s.startedAt) / 1000) + ' \\u00b7 as of ' + when(s.generatedAt);
  fill('problems', a.problems.map(function (p) { return el('li', '', p); }));
  var m = s.health.mdns, d = s.health.dnstap, f = s.health.front;
  fill('health', [
    row(['mDNS backend', el('span', m.up ? 'ok' : 'bad', m.backend + (m.up ? ' up' : ' down'))]),
    row(['dnstap', d ? el('span', d.connected ? 'ok' : 'bad', (d.connected ? 'connected' : 'disconnected') + ' \\u00b7 ' + d.connections + ' connection(s) \\u00b7 ' + d.frames + ' frames') : el('span', 'mut', 'not configured')]),
    row(['DNS front', f ? el('span', f.notBound && f.notBound.length ? 'bad' : f.insertion.state === 'ok' ? 'ok' : f.insertion.state === 'off' ? 'mut' : 'bad', f.listen.join(', ') + ' \\u2192 ' + f.upstream + ' \\u00b7 ' + (f.insertion.state === 'ok' ? 'inserting before answering' : f.insertion.state === 'off' ? 'relay only (no learning list)' : (f.insertion.problem || f.insertion.state)) + ' \\u00b7 ' + f.insertion.deadlineMisses + ' deadline miss(es)' + (f.notBound && f.notBound.length ? ' \\u00b7 not listening on ' + f.notBound.join(', ') + ' yet' : '')) : el('span', 'mut', 'not configured')]),
    f ? row(['UDP kernel drops', el('span', f.udp.kernelDrops.listener + f.udp.kernelDrops.upstream + f.udp.kernelDrops.unbound > 0 || f.udp.receiveBufferCapped ? 'warn' : 'ok', f.udp.kernelDrops.listener + ' listener \\u00b7 ' + f.udp.kernelDrops.upstream + ' upstream \\u00b7 ' + f.udp.kernelDrops.unbound + ' Unbound \\u00b7 receive buffer ' + (f.udp.receiveBufferBytes === undefined ? 'system default' : Math.round(f.udp.receiveBufferBytes / 1024) + ' KiB') + (f.udp.receiveBufferCapped ? ' (capped by net.core.rmem_max)' : ''))]) : null,
  ].filter(function (x) { return x; }));
  fill('lists', s.lists.length === 0 ? [row([el('span', 'mut', 'no lists configured')])] : s.lists.map(function (l) {
    var stale = l.ageSeconds > 3 * l.refreshSeconds;
    var outcome = el('span', l.outcome === 'failed' || l.outcome === 'partial' ? 'bad' : l.outcome === 'kept-last-good' ? 'warn' : 'ok', l.outcome || 'restored from snapshot');
    if (l.lastError) outcome.title = l.lastError;
    var sets = el('div');
    l.sets.forEach(function (x) { sets.appendChild(el('div', x.lastError ? 'bad' : '', x.set + ': ' + x.elements + (x.lastError ? ' \\u2014 ' + x.lastError : ''))); });
    if (l.sets.length === 0) sets.appendChild(el('span', 'mut', 'not applied yet'));
    return row([el('code', '', l.name), outcome, when(l.lastSyncAt), el('span', stale ? 'bad' : '', age(l.ageSeconds) + (stale ? ' (stale)' : '')), sets, l.learned === undefined ? '\\u2014' : l.learned]);
  }));
  fill('errors', s.errors.length === 0 ? [row([el('span', 'mut', 'none')])] : s.errors.map(function (e) {
    return row([when(e.at), el('span', e.level === 'warn' ? 'warn' : 'bad', e.level), e.source, e.message]);
  }));
  lookupReady = s.lookup;
  document.getElementById('q').disabled = !s.lookup;
  document.getElementById('go').disabled = !s.lookup;
  if (!s.lookup) fill('answer', [el('p', 'mut', 'lookup not available: no list has "learn", so this daemon runs no learner')]);
  else if (document.getElementById('answer').dataset.state === undefined) fill('answer', []);
}

function refresh() {
  fetch('api/status', { cache: 'no-store' }).then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
    .then(function (s) { document.getElementById('down').hidden = true; render(s); })
    .catch(function (e) { var d = document.getElementById('down'); d.hidden = false; d.textContent = 'daemon unreachable: ' + e.message; });
}

function lookup(ev) {
  ev.preventDefault();
  var q = document.getElementById('q').value.trim();
  var out = document.getElementById('answer');
  if (!lookupReady || q === '') return;
  out.dataset.state = 'busy';
  fill('answer', [el('p', 'mut', 'looking up ' + q + '\\u2026')]);
  fetch('api/lookup?q=' + encodeURIComponent(q), { cache: 'no-store' }).then(function (r) {
    return r.json().then(function (body) { return { status: r.status, body: body }; });
  }).then(function (res) {
    out.dataset.state = 'done';
    var b = res.body;
    if (res.status === 501) return fill('answer', [el('p', 'mut', 'lookup not available: ' + b.error)]);
    if (res.status !== 200) return fill('answer', [el('p', 'bad', 'lookup failed: ' + (b.error || ('HTTP ' + res.status)))]);
    if (b.kind === 'invalid') return fill('answer', [el('p', 'bad', b.query + ' is neither a domain name nor an IP address')]);
    var head = el('p', b.matches.length ? 'ok' : '', b.query + ' (' + b.kind + '): ' + (b.matches.length ? 'routed through the VPN' : 'not routed through the VPN (no list or learned address matches)'));
    var ul = el('ul');
    b.matches.forEach(function (m) {
      var li = el('li', '', m.list + ': ' + m.reason);
      if (m.set) li.appendChild(el('span', 'mut', ' \\u00b7 set ' + m.set));
      if (m.expiresAt !== undefined) li.appendChild(el('span', 'mut', ' \\u00b7 expires ' + when(m.expiresAt)));
      ul.appendChild(li);
    });
    fill('answer', [head, ul]);
  }).catch(function (e) { out.dataset.state = 'done'; fill('answer', [el('p', 'bad', 'lookup failed: ' + e.message)]); });
}

document.getElementById('lookup').addEventListener('submit', lookup);
refresh();
setInterval(refresh, 10000);
`;

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>unbound-sidecar status</title><style>${STYLE}</style></head>
<body>
<h1>unbound-sidecar <span id="overall" class="badge mut">loading…</span></h1>
<div id="meta" class="mut"></div>
<p id="down" class="bad" hidden></p>
<ul id="problems"></ul>
<h2>Health</h2><table><tbody id="health"></tbody></table>
<h2>Lists</h2>
<table><thead><tr><th>list</th><th>last outcome</th><th>last sync</th><th>age</th><th>sets (elements)</th><th>learned</th></tr></thead><tbody id="lists"></tbody></table>
<h2>Is it routed through the VPN?</h2>
<form id="lookup"><input id="q" name="q" maxlength="253" placeholder="example.org or 203.0.113.7" autocomplete="off" spellcheck="false"><button id="go" type="submit">Look up</button></form>
<div id="answer"></div>
<h2>Recent warnings and errors</h2>
<table><tbody id="errors"></tbody></table>
<script>${SCRIPT}</script>
</body></html>
`;

const scriptHash = createHash('sha256').update(SCRIPT).digest('base64');

/** Headers for `/`: only our own inline script and same-origin fetches; nothing may frame the page. */
export const STATUS_PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};
