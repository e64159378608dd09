import type { HeaderMapping } from '../fields/headers.js';

/**
 * What a file is when it is not a comma-separated UTF-8 text: recognised from its first bytes (a workbook,
 * a compressed file, UTF-16) or from its header row (another separator), so that the customer's ETL engineer
 * reads what to do instead of "byte 0x8B is not valid UTF-8" or one unknown column named "First Name;Last Name".
 */

export interface Sniffed {
  /** The evidence, as the value (bytes in hex). */
  value: string;
  message: string;
}

/** Bytes the signatures below need; the reader looks at the first SNIFF_BYTES of the file (or fewer at its end). */
export const SNIFF_BYTES = 8;
/** How far into the first chunk a ZIP is searched for the entries of an Excel workbook. */
const WORKBOOK_SEARCH_BYTES = 64 * 1024;

const SAVE_AS = 'save it as CSV UTF-8';

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');

function startsWith(start: Uint8Array, magic: readonly number[]): boolean {
  if (start.length < magic.length) return false;
  return magic.every((byte, i) => start[i] === byte);
}

const ZIP = [0x50, 0x4b, 0x03, 0x04];
const GZIP = [0x1f, 0x8b];
const OLE2 = [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]; // Excel 97-2003 (.xls) and other old Office files
const PDF = [0x25, 0x50, 0x44, 0x46, 0x2d]; // %PDF-
const UTF32_LE = [0xff, 0xfe, 0x00, 0x00];
const UTF32_BE = [0x00, 0x00, 0xfe, 0xff];
const UTF16_LE = [0xff, 0xfe];
const UTF16_BE = [0xfe, 0xff];

/**
 * An OOXML workbook is a ZIP whose entries are [Content_Types].xml, _rels/ and xl/...; the entry names are
 * stored uncompressed in each entry's local header, so they can be found in the first bytes.
 */
function isWorkbook(chunk: Uint8Array): boolean {
  const text = Buffer.from(chunk.buffer, chunk.byteOffset, Math.min(chunk.length, WORKBOOK_SEARCH_BYTES)).toString('latin1');
  return text.includes('xl/') || text.includes('[Content_Types].xml');
}

/** UTF-16 text without a byte order mark: ASCII letters alternating with zero bytes. */
function utf16WithoutBom(start: Uint8Array): 'little-endian' | 'big-endian' | null {
  const pairs = Math.floor(Math.min(start.length, SNIFF_BYTES) / 2);
  if (pairs < 2) return null;
  let le = true;
  let be = true;
  for (let p = 0; p < pairs; p++) {
    const a = start[2 * p] as number;
    const b = start[2 * p + 1] as number;
    le &&= a !== 0 && b === 0;
    be &&= a === 0 && b !== 0;
  }
  return le ? 'little-endian' : be ? 'big-endian' : null;
}

/**
 * The kind of file, from START (the file's first bytes, up to SNIFF_BYTES) and CHUNK (the first chunk
 * read, searched a little further for a workbook's entries). Null when nothing is recognised: the file is
 * then read as text, and anything wrong with it is found by the UTF-8 check and the parser.
 */
export function sniffFileStart(start: Uint8Array, chunk: Uint8Array = start): Sniffed | null {
  const value = hex(start.subarray(0, 4));
  if (startsWith(start, ZIP)) {
    return isWorkbook(chunk)
      ? { value, message: `the file is an Excel workbook (.xlsx), not CSV: ${SAVE_AS}` }
      : { value, message: 'the file is a ZIP archive, not CSV: upload the CSV file itself (CSV UTF-8), not compressed' };
  }
  if (startsWith(start, OLE2)) return { value, message: `the file is an Excel 97-2003 workbook (.xls), not CSV: ${SAVE_AS}` };
  if (startsWith(start, GZIP)) return { value: hex(start.subarray(0, 2)), message: `the file is a gzip-compressed file, not CSV: upload it uncompressed, as CSV UTF-8` };
  if (startsWith(start, PDF)) return { value, message: 'the file is a PDF document, not CSV: export the data as CSV UTF-8' };
  if (startsWith(start, UTF32_LE) || startsWith(start, UTF32_BE)) return { value, message: `the file is UTF-32 encoded: ${SAVE_AS}` };
  if (startsWith(start, UTF16_LE) || startsWith(start, UTF16_BE)) {
    return { value: hex(start.subarray(0, 2)), message: `the file is UTF-16 encoded: ${SAVE_AS}` };
  }
  const order = utf16WithoutBom(start);
  if (order) return { value: '0x00', message: `the file is UTF-16 encoded (${order}, without a byte order mark): ${SAVE_AS}` };
  return null;
}

const SEPARATORS: readonly { char: string; name: string }[] = [
  { char: ';', name: 'semicolon' },
  { char: '\t', name: 'tab' },
  { char: '|', name: 'pipe' },
];

/**
 * A header row that does not split on commas but does on another separator (Excel's CSV in many European
 * locales uses ";"; "text (tab-delimited)" uses tabs): the message names the separator found. Only asked
 * when the header row is unusable anyway (a required column is missing), so it never rejects a good file.
 */
export function separatorProblem(headers: readonly string[]): string | null {
  let found: { name: string; count: number } | null = null;
  for (const { char, name } of SEPARATORS) {
    let count = 0;
    for (const header of headers) count += header.split(char).length - 1;
    if (count > (found?.count ?? 0)) found = { name, count };
  }
  // "Only splits on it": more of that separator than the comma-separated cells it would replace.
  if (found === null || found.count < 2 || found.count < headers.length) return null;
  return `the header row is ${found.name}-separated, not comma-separated: export the file as comma-separated CSV (CSV UTF-8)`;
}

/**
 * MAPPING, or when the header row is unusable because it is separated by something else than commas, the
 * same with that as its fatal problem (and without the warning that lists the whole row as one unknown column).
 */
export function withSeparatorProblem(headers: readonly string[], mapping: HeaderMapping): HeaderMapping {
  const message = mapping.fatal ? separatorProblem(headers) : null;
  return message === null ? mapping : { ...mapping, warnings: [], fatal: { column: '', message } };
}
