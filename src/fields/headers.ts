import { boundedWarnings, cut, listed, quoted } from './bounded.js';
import { FIELDS, FIELD_BY_NAME, REQUIRED_FIELDS } from './fields.js';

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

/** Normalised built-in header (canonical name, display name or alias) -> canonical field. */
const BUILT_IN: ReadonlyMap<string, string> = (() => {
  const map = new Map<string, string>();
  for (const spec of FIELDS) {
    for (const header of [spec.name, spec.display, ...spec.aliases]) map.set(normalizeHeader(header), spec.name);
  }
  return map;
})();

/** The canonical field a built-in header or alias stands for, if any. */
export function builtInField(header: string): string | undefined {
  return BUILT_IN.get(normalizeHeader(header));
}

export interface TenantColumns {
  /** Customer header -> canonical field (or custom segment column). */
  columns: Record<string, string>;
  customSegments: string[];
}

export interface HeaderMapping {
  /** Per file column: the canonical field it feeds, or null when ignored. */
  fields: (string | null)[];
  /** Canonical names of mapped columns, in file order. */
  columns: string[];
  /** The file's header text of each of COLUMNS (trimmed, cut). */
  names: string[];
  warnings: string[];
  /** A problem that makes the file unreadable (missing required column, two columns for one field). */
  fatal?: { column: string; message: string };
}

/**
 * Maps a file's header row to canonical fields. Precedence: the tenant's own column map, then the tenant's
 * custom segment columns, then the built-in names and aliases. A column the tenant maps to "" is ignored
 * silently. A built-in match for a field the tenant already feeds from another column is ignored with a
 * warning (the tenant's mapping is explicit); two explicit or two built-in columns for one field are fatal.
 */
export function mapHeaders(headers: readonly string[], tenant: TenantColumns): HeaderMapping {
  const tenantMap = new Map<string, string>();
  for (const [customer, target] of Object.entries(tenant.columns)) tenantMap.set(normalizeHeader(customer), target.trim());
  const segments = new Map<string, string>();
  for (const segment of tenant.customSegments) segments.set(normalizeHeader(segment), segment);

  const matches = headers.map((raw) => {
    const key = normalizeHeader(raw);
    const header = cut(raw.trim()); // shown in messages only
    const explicit = tenantMap.get(key) ?? segments.get(key);
    return { header, key, target: explicit ?? BUILT_IN.get(key), explicit: explicit !== undefined };
  });
  const explicitHeader = new Map<string, string>();
  for (const m of matches) if (m.explicit && m.target && !explicitHeader.has(m.target)) explicitHeader.set(m.target, m.header);

  const fields: (string | null)[] = [];
  const columns: string[] = [];
  const names: string[] = [];
  const warnings: string[] = [];
  const headerOf = new Map<string, string>();
  let fatal: HeaderMapping['fatal'];

  matches.forEach(({ header, key, target, explicit }, index) => {
    fields.push(null);
    if (key === '') {
      warnings.push(`column ${index + 1} has no header (ignored)`);
      return;
    }
    if (target === '') return; // the tenant ignores this column on purpose
    if (target === undefined) {
      warnings.push(`unknown column ${quoted(header, 60)} (column ${index + 1}, ignored): map it in the tenant's columns or declare it as a custom segment`);
      return;
    }
    if (!explicit && explicitHeader.has(target)) {
      warnings.push(`column ${index + 1} ${quoted(header, 60)} (ignored): the tenant config maps ${quoted(explicitHeader.get(target) ?? '', 60)} to ${target}`);
      return;
    }
    const earlier = headerOf.get(target);
    if (earlier !== undefined) {
      // The column is the field both feed, as for missing columns: a header text may be member data (a
      // file without its header row), shown unmasked as a column where the message's quotes are masked.
      fatal ??= {
        column: target,
        message: `columns ${quoted(earlier, 60)} and ${quoted(header, 60)} both map to ${target}: remove one of them or map one to another field in the tenant config`,
      };
      return;
    }
    if (explicit && !FIELD_BY_NAME.has(target) && !tenant.customSegments.includes(target)) {
      warnings.push(`column ${index + 1} ${quoted(header, 60)} is mapped to "${target}", which is neither a field of the spec nor a declared custom segment: read as a custom segment`);
    }
    headerOf.set(target, header);
    fields[index] = target;
    columns.push(target);
    names.push(header);
  });

  if (!fatal) {
    const missing = REQUIRED_FIELDS.filter((name) => !headerOf.has(name));
    if (missing.length > 0) {
      const found = listed(headers.map((h) => quoted(h.trim())));
      const names = missing.map((name) => `${name} ("${FIELD_BY_NAME.get(name)?.display ?? name}")`).join(', ');
      fatal = {
        column: missing.join(', '),
        message: `missing required column${missing.length > 1 ? 's' : ''} ${names}; the header row has: ${found || '(nothing)'}`,
      };
    }
  }
  return fatal ? { fields, columns, names, warnings: boundedWarnings(warnings), fatal } : { fields, columns, names, warnings: boundedWarnings(warnings) };
}
