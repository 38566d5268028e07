// A small, safe Markdown subset for task instructions: paragraphs, headings (#, ##, ###), bullet
// and numbered lists, fenced code blocks, and inline `code`, **bold**, *italic* and
// [links](https://...). It parses to a tree of plain strings; the component renders that with Lit,
// which escapes every string, so no text of a lab manifest can become HTML. Raw HTML in the source
// stays text, and links other than http(s) (javascript:, data:) stay text too.

export type Inline =
  | { kind: 'text'; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'strong'; children: Inline[] }
  | { kind: 'em'; children: Inline[] }
  | { kind: 'link'; href: string; children: Inline[] };

export type Block =
  | { kind: 'p'; children: Inline[] }
  | { kind: 'h'; level: 1 | 2 | 3; children: Inline[] }
  | { kind: 'ul' | 'ol'; items: Inline[][] }
  | { kind: 'pre'; text: string };

const BULLET = /^\s*[-*+]\s+(.*)$/;
const NUMBERED = /^\s*\d{1,9}[.)]\s+(.*)$/;
const HEADING = /^(#{1,3})\s+(.*?)\s*#*\s*$/;
const FENCE = /^\s*(```|~~~)/;

export function parseMarkdown(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, '\n').split('\n');
  const blocks: Block[] = [];
  let paragraph: string[] = [];
  const flush = (): void => {
    if (paragraph.length) blocks.push({ kind: 'p', children: parseInline(paragraph.join(' ')) });
    paragraph = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.trimStart().startsWith(fence[1]!); i++) body.push(lines[i]!);
      blocks.push({ kind: 'pre', text: body.join('\n') });
      continue;
    }
    if (line.trim() === '') {
      flush();
      continue;
    }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      blocks.push({ kind: 'h', level: heading[1]!.length as 1 | 2 | 3, children: parseInline(heading[2]!) });
      continue;
    }
    const listKind = BULLET.test(line) ? 'ul' : NUMBERED.test(line) ? 'ol' : undefined;
    if (listKind) {
      flush();
      const pattern = listKind === 'ul' ? BULLET : NUMBERED;
      const items: string[] = [];
      for (; i < lines.length; i++) {
        const item = pattern.exec(lines[i]!);
        if (item) items.push(item[1]!);
        else if (lines[i]!.trim() !== '' && /^\s+/.test(lines[i]!) && items.length) items[items.length - 1] += ` ${lines[i]!.trim()}`;
        else break;
      }
      i--;
      blocks.push({ kind: listKind, items: items.map(parseInline) });
      continue;
    }
    paragraph.push(line.trim());
  }
  flush();
  return blocks;
}

/** Inline spans of one block's text. Unclosed markers stay as they were typed. */
export function parseInline(text: string): Inline[] {
  const out: Inline[] = [];
  let plain = '';
  const push = (node: Inline): void => {
    if (plain) out.push({ kind: 'text', text: plain });
    plain = '';
    out.push(node);
  };
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    if (rest[0] === '\\' && rest.length > 1 && /[\\`*_[\]()#+\-.!]/.test(rest[1]!)) {
      plain += rest[1];
      i += 2;
      continue;
    }
    if (rest[0] === '`') {
      const ticks = /^`+/.exec(rest)![0];
      const end = rest.indexOf(ticks, ticks.length);
      if (end > 0) {
        push({ kind: 'code', text: rest.slice(ticks.length, end).trim() || rest.slice(ticks.length, end) });
        i += end + ticks.length;
        continue;
      }
    }
    const strong = /^(\*\*|__)(?=\S)([\s\S]*?\S)\1/.exec(rest);
    if (strong && (strong[1] === '**' || underscoreFlanks(text, i, strong[0].length))) {
      push({ kind: 'strong', children: parseInline(strong[2]!) });
      i += strong[0].length;
      continue;
    }
    const em = /^([*_])(?=\S)([\s\S]*?\S)\1(?![*_])/.exec(rest);
    if (em && (em[1] === '*' || underscoreFlanks(text, i, em[0].length))) {
      push({ kind: 'em', children: parseInline(em[2]!) });
      i += em[0].length;
      continue;
    }
    const link = /^\[([^\]]+)\]\(([^)\s]+)\)/.exec(rest);
    if (link && /^https?:\/\//i.test(link[2]!)) {
      push({ kind: 'link', href: link[2]!, children: parseInline(link[1]!) });
      i += link[0].length;
      continue;
    }
    plain += rest[0];
    i += 1;
  }
  if (plain) out.push({ kind: 'text', text: plain });
  return out;
}

/** Underscores emphasise only outside words: `__init__` and `window.__x` stay as typed. */
function underscoreFlanks(text: string, start: number, length: number): boolean {
  return !/\w/.test(text[start - 1] ?? '') && !/\w/.test(text[start + length] ?? '');
}
