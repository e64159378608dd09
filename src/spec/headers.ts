/** Header normalisation: case-insensitive, ignoring spaces, underscores and punctuation. */
export function normalizeHeader(header: string): string {
  return header.normalize('NFKC').toLowerCase().replace(/[^\p{L}\p{N}]+/gu, '');
}

/** A display header turned into lower snake case ("Cost Center" -> "cost_center"). */
export function canonicalHeader(header: string): string {
  return header
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, '_')
    .replace(/^_+|_+$/g, '');
}
