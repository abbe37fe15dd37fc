import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** One fenced code block of a markdown file (CommonMark backtick fences, as GitHub renders them). */
export interface FencedBlock {
  /** Repository-relative path of the markdown file. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string's first word (`json`, `ts`, …); '' when the fence has none. */
  readonly lang: string;
  /** The content, with the opening fence's indentation removed from each line; ends with '\n'. */
  readonly text: string;
  /** The paragraph right before the fence (what usually says what the block is), joined into one line. */
  readonly lead: string;
}

/** `file:line`, the way editors and `grep -n` name a place. */
export const where = (b: FencedBlock): string => `${b.file}:${b.line}`;

export function fencedBlocks(root: string, file: string): FencedBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const out: FencedBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^( {0,3})(`{3,})\s*([^\s`]*)/.exec(lines[i] ?? '');
    if (!open) continue;
    const [, indent = '', fence = '', lang = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const l = lines[j] ?? '';
      if (new RegExp(`^ {0,3}${fence}\`*\\s*$`).test(l)) break;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    let k = i - 1;
    while (k >= 0 && (lines[k] ?? '').trim() === '') k--;
    const lead: string[] = [];
    for (; k >= 0 && (lines[k] ?? '').trim() !== ''; k--) lead.unshift((lines[k] ?? '').trim());
    out.push({ file, line: i + 1, lang, text: body.map((l) => `${l}\n`).join(''), lead: lead.join(' ') });
    i = j;
  }
  return out;
}

/** Every README.md of the repository (not node_modules/, dist/ or .git/), repository-relative, sorted. */
export function readmes(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      if (['node_modules', 'dist', '.git'].includes(e.name)) return [];
      const p = join(dir, e.name);
      if (e.isDirectory()) return readmes(root, p);
      return e.name === 'README.md' ? [relative(root, p)] : [];
    })
    .sort();
}
