/**
 * HTML building blocks for the report. Every piece of text goes through
 * escapeHtml; `Html` marks strings that are already markup (ours, or vega's SVG),
 * so nothing is escaped twice and nothing is left unescaped.
 */

export class Html {
  constructor(readonly markup: string) {}
  toString(): string {
    return this.markup;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export type Content = Html | string | number | null | undefined | readonly Content[];

/** Text is escaped, Html passes through, arrays are joined, null and undefined vanish. */
export function render(content: Content): string {
  if (content === null || content === undefined) return '';
  if (content instanceof Html) return content.markup;
  if (Array.isArray(content)) return content.map(render).join('');
  return escapeHtml(String(content));
}

/** An element; attribute values are escaped too. */
export function el(tag: string, attrs: Record<string, string | number | undefined>, ...children: Content[]): Html {
  const a = Object.entries(attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}="${escapeHtml(String(v))}"`)
    .join('');
  return new Html(`<${tag}${a}>${render(children)}</${tag}>`);
}

export function table(head: readonly Content[], rows: readonly (readonly Content[])[], cls?: string): Html {
  return el(
    'table',
    { class: cls },
    el('thead', {}, el('tr', {}, head.map((h) => el('th', {}, h)))),
    el('tbody', {}, rows.map((r) => el('tr', {}, r.map((c) => el('td', {}, c))))),
  );
}

const STYLE = `
body { font-family: Helvetica, Arial, sans-serif; margin: 24px; color: #222; background: white; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; margin-top: 20px; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: right; vertical-align: top; }
th { background: #f2f2f2; } td:first-child, th:first-child { text-align: left; }
.note { color: #8a4b00; } .pass { color: #1a7f37; } .fail { color: #b00020; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-start; }
.sample { display: inline-block; margin: 6px 12px 6px 0; font-size: 11px; vertical-align: top; }
.sample img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid #999; display: block; }
.sample table { font-size: 10px; }
.muted { color: #777; }
`;

export function page(title: string, body: Content): string {
  return (
    '<!DOCTYPE html>\n' +
    `<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>` +
    // Everything is inline; forbid the page from fetching anything at all.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">` +
    `<style>${STYLE}</style></head><body>${render(body)}</body></html>\n`
  );
}
