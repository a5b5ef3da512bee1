// Generates the notebooks table of the root README.md and of notebooks/README.md from the notebooks' committed
// outputs, so that no figure in them is copied by hand.
//
//   node scripts/notebook-table.mjs           # rewrite both tables
//   node scripts/notebook-table.mjs --check   # CI: exit 1 (and say which file) when a committed table is stale
//
// Sources, per notebook (notebooks/*.ipynb):
// - metadata.convkit.title / .shows: the row's name and what the notebook shows (words, not results);
// - the stdout of its last code cell, where notebooks/lib/verdict.ts's printVerdict() prints
//     size: …  /  reported: …  /  measured: …  /  verdict: reproduced | partly: … | not reproduced: …
//   A notebook whose committed outputs have no such lines gets "—" as measured and "no verdict yet" as status,
//   with the write-up's figure from metadata.convkit.reported.
// The tables sit between `<!-- notebooks-table:start -->` and `<!-- notebooks-table:end -->` in each README.
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NOTEBOOKS = join(ROOT, 'notebooks');
const START = '<!-- notebooks-table:start -->';
const END = '<!-- notebooks-table:end -->';

const text = (source) => (Array.isArray(source) ? source.join('') : (source ?? ''));
const cellText = (value) => String(value).replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ').trim();

/** The verdict lines of a notebook's last code cell that has any, or null. */
export function verdictOf(notebook) {
  const code = notebook.cells.filter((cell) => cell.cell_type === 'code');
  for (const cell of code.reverse()) {
    const out = (cell.outputs ?? [])
      .filter((o) => o.output_type === 'stream' && o.name === 'stdout')
      .map((o) => text(o.text))
      .join('');
    const lines = out.split('\n');
    const field = (name) => lines.findLast((line) => line.startsWith(`${name}: `))?.slice(name.length + 2).trim();
    const verdict = field('verdict');
    if (verdict !== undefined) return { verdict, size: field('size'), reported: field('reported'), measured: field('measured') };
    if (out.trim() !== '') return null; // the last cell with output has no verdict
  }
  return null;
}

/** `reproduced`, `partly`, `not reproduced`, or `no verdict yet` (or `unknown verdict` for a malformed line). */
export function statusOf(verdict) {
  if (verdict === null) return 'no verdict yet';
  const line = verdict.verdict;
  if (line === 'reproduced') return 'reproduced';
  if (line.startsWith('partly:')) return 'partly';
  if (line.startsWith('not reproduced:')) return 'not reproduced';
  return 'unknown verdict';
}

/** Notebooks in table order: quickstart, plugin-swa, then E0.1 … E4.7 by number. */
function order(name) {
  const m = /^E(\d+)\.(\d+)-/.exec(name);
  if (m) return [2, Number(m[1]), Number(m[2])];
  return [name === 'quickstart.ipynb' ? 0 : 1, 0, 0];
}

async function rows() {
  const names = (await readdir(NOTEBOOKS)).filter((n) => n.endsWith('.ipynb')).sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || a.localeCompare(b);
  });
  const result = [];
  for (const name of names) {
    const notebook = JSON.parse(await readFile(join(NOTEBOOKS, name), 'utf8'));
    const meta = notebook.metadata?.convkit;
    if (!meta?.title || !meta?.shows) throw new Error(`notebooks/${name}: metadata.convkit needs "title" and "shows" (found ${JSON.stringify(meta)})`);
    const verdict = verdictOf(notebook);
    result.push({
      name,
      title: meta.title,
      shows: meta.shows,
      reported: verdict?.reported ?? meta.reported ?? '—',
      measured: verdict?.measured ?? '—',
      size: verdict?.size ?? '—',
      status: statusOf(verdict),
      verdict: verdict?.verdict ?? 'no verdict cell in the committed outputs yet',
    });
  }
  return result;
}

function rootTable(all) {
  const lines = [
    '| notebook | what it shows | reported | measured | size | status |',
    '| --- | --- | --- | --- | --- | --- |',
    ...all.map((r) => `| [${cellText(r.title)}](notebooks/${r.name}) | ${cellText(r.shows)} | ${cellText(r.reported)} | ${cellText(r.measured)} | ${cellText(r.size)} | ${r.status} |`),
  ];
  const count = (s) => all.filter((r) => r.status === s).length;
  lines.push('', `Status, decided by each notebook's last cell: ${count('reproduced')} reproduced, ${count('partly')} partly, ` +
    `${count('not reproduced')} not reproduced, ${count('no verdict yet')} without a verdict yet. ` +
    'The full verdict lines are in [notebooks/README.md](notebooks/README.md).');
  return lines.join('\n');
}

function notebooksTable(all) {
  return [
    '| notebook | reported | measured | size | verdict |',
    '| --- | --- | --- | --- | --- |',
    ...all.map((r) => `| [${cellText(r.title)}](${r.name}) | ${cellText(r.reported)} | ${cellText(r.measured)} | ${cellText(r.size)} | ${cellText(r.verdict)} |`),
  ].join('\n');
}

function splice(content, table, file) {
  const start = content.indexOf(START);
  const end = content.indexOf(END);
  if (start < 0 || end < start) throw new Error(`${file} has no "${START}" … "${END}" section to fill`);
  return `${content.slice(0, start + START.length)}\n<!-- generated by scripts/notebook-table.mjs from the notebooks' outputs; do not edit by hand -->\n${table}\n${content.slice(end)}`;
}

async function main() {
  const check = process.argv.includes('--check');
  const all = await rows();
  const targets = [
    [join(ROOT, 'README.md'), rootTable(all)],
    [join(NOTEBOOKS, 'README.md'), notebooksTable(all)],
  ];
  let stale = 0;
  for (const [file, table] of targets) {
    const before = await readFile(file, 'utf8');
    const after = splice(before, table, file);
    if (before === after) continue;
    if (check) {
      stale++;
      console.error(`${file.slice(ROOT.length + 1)}: the notebooks table differs from the notebooks' outputs; run \`node scripts/notebook-table.mjs\``);
    } else {
      await writeFile(file, after);
      console.log(`wrote ${file.slice(ROOT.length + 1)}`);
    }
  }
  if (check && stale === 0) console.log(`notebooks tables up to date (${all.length} notebooks)`);
  process.exitCode = stale ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
