// One place that puts a bench's Markdown section into bench/RESULTS.md: between
// `<!-- TAG:begin -->` and `<!-- TAG:end -->`, replacing what was there, or at the end.
// (run.js lists only files without a leading underscore, so this is not a bench.)
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RESULTS = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

export function writeSection(tag, section, who = tag) {
  const begin = `<!-- ${tag}:begin -->`;
  const end = `<!-- ${tag}:end -->`;
  const block = `${begin}\n${section}${end}\n`;
  let text = existsSync(RESULTS) ? readFileSync(RESULTS, 'utf8') : '';
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length + 1) : text.trimEnd() + '\n\n' + block;
  writeFileSync(RESULTS, text);
  process.stderr.write(`${who}: section ${tag} written to bench/RESULTS.md\n`);
}
