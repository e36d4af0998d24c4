// Builds the console into dist/: one minified, content-hashed JS module and CSS file, and an
// index.html naming them. Prints the compressed size of the first load's JavaScript and fails
// over the budget (200 KB gzip, issue #18).
//
// Env: LEADLINE_API_BASE (the API's origin when it is not the page's own, e.g. a deployed
// console on its own host) and LEADLINE_LIVE_URL (the WebSocket URL; default <api>/live).

import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { basename } from 'node:path';

const BUDGET_BYTES = 200 * 1024;
const out = new URL('./dist/', import.meta.url).pathname;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const result = await build({
  entryPoints: ['src/main.jsx'],
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: 'assets/[name]-[hash]',
  outdir: out,
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs);
const js = outputs.find((f) => f.endsWith('.js'));
const css = outputs.find((f) => f.endsWith('.css'));
const relative = (file) => `assets/${basename(file)}`;
const escape = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

const html = readFileSync('index.html', 'utf8')
  .replace('%JS%', relative(js))
  .replace('%CSS%', relative(css))
  .replace('%LEADLINE_API_BASE%', escape(process.env.LEADLINE_API_BASE || ''))
  .replace('%LEADLINE_LIVE_URL%', escape(process.env.LEADLINE_LIVE_URL || ''));
writeFileSync(`${out}index.html`, html);

const gz = (file) => gzipSync(readFileSync(file), { level: 9 }).length;
const jsGzip = gz(js);
const kb = (n) => `${(n / 1024).toFixed(1)} KB`;
console.log(`console/dist: ${relative(js)} ${kb(readFileSync(js).length)} (${kb(jsGzip)} gzip), ` +
  `${relative(css)} ${kb(readFileSync(css).length)} (${kb(gz(css))} gzip)`);
console.log(`first-load JavaScript: ${kb(jsGzip)} gzip (budget ${kb(BUDGET_BYTES)})`);
if (jsGzip > BUDGET_BYTES) {
  console.error('over the JavaScript budget');
  process.exit(1);
}
