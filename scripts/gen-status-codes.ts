/**
 * Writes src/protocol/status-codes.ts from firmware/include/status.h, the one
 * table of status and error codes: `node --import tsx scripts/gen-status-codes.ts`.
 * test/status-codes.test.ts fails when the committed file is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const STATUS_HEADER = join(ROOT, 'firmware', 'include', 'status.h');
export const STATUS_MODULE = join(ROOT, 'src', 'protocol', 'status-codes.ts');

export interface StatusEntry {
  readonly name: string;
  readonly code: number;
  readonly description: string;
}

/** `TML_OK = 0,` and `TML_ERR_NAME = 16, /* why *\/` lines of the enum, in order. */
export function parseStatusHeader(text: string): StatusEntry[] {
  const entries: StatusEntry[] = [];
  for (const m of text.matchAll(/^[ \t]*TML_(?:ERR_)?([A-Z0-9_]+)[ \t]*=[ \t]*(\d+)[ \t]*,?[ \t]*(?:\/\*[ \t]*(.*?)[ \t]*\*\/)?[ \t]*$/gm)) {
    entries.push({ name: m[1]!, code: Number(m[2]), description: m[3] ?? '' });
  }
  if (entries.length < 2 || entries[0]!.name !== 'OK') throw new Error(`${STATUS_HEADER}: no tml_status_t enum found`);
  const seen = new Set<number>();
  for (const e of entries) {
    if (seen.has(e.code)) throw new Error(`${STATUS_HEADER}: code ${e.code} is used twice`);
    seen.add(e.code);
  }
  return entries;
}

export function renderStatusModule(entries: readonly StatusEntry[]): string {
  const names = entries.map((e) => `  ${e.name}: ${e.code},`).join('\n');
  const texts = entries.map((e) => `  ${e.code}: ${JSON.stringify(e.description ? `${e.name} (${e.description})` : e.name)},`).join('\n');
  return `// Generated from firmware/include/status.h by scripts/gen-status-codes.ts: do not edit.
/** tml_status_t: model load statuses (INFO) and ERROR codes, never renumbered. */
export const ErrorCode = {
${names}
} as const;

export type ErrorCodeName = keyof typeof ErrorCode;

/** "NAME (what it means)" for each code. */
export const ERROR_TEXT: Readonly<Record<number, string>> = {
${texts}
};
`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(STATUS_MODULE, renderStatusModule(parseStatusHeader(readFileSync(STATUS_HEADER, 'utf8'))));
  console.log(`wrote ${STATUS_MODULE}`);
}
