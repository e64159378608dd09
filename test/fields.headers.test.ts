import { describe, expect, test } from 'vitest';
import { FIELDS, REQUIRED_FIELDS, SAMPLE_HEADERS } from '../src/fields/fields.js';
import { builtInField, mapHeaders, normalizeHeader } from '../src/fields/headers.js';

const noTenant = { columns: {}, customSegments: [] };

describe('normalizeHeader', () => {
  test('ignores case, spaces, underscores and punctuation', () => {
    expect(normalizeHeader('First Name')).toBe('firstname');
    expect(normalizeHeader('first_name')).toBe('firstname');
    expect(normalizeHeader(' FIRST-NAME: ')).toBe('firstname');
    expect(normalizeHeader('E-mail')).toBe(normalizeHeader('email'));
    expect(normalizeHeader('Prénom')).toBe('prénom');
  });
});

describe('the field spec', () => {
  test('has the canonical fields of DESIGN.md with first_name, last_name and email required', () => {
    expect(FIELDS.map((f) => f.name)).toEqual([
      'first_name', 'last_name', 'email', 'employee_id', 'program_eligibility', 'status', 'job_function', 'hire_start_date',
      'business_unit', 'office_location', 'people_manager_status', 'high_potential_status', 'gender', 'first_level_supervisor',
      'second_level_supervisor', 'third_level_supervisor', 'locale', 'most_recent_role_start_date', 'role_reason_change_code',
      'city', 'country',
    ]);
    expect(REQUIRED_FIELDS).toEqual(['first_name', 'last_name', 'email']);
    expect(SAMPLE_HEADERS).toHaveLength(19);
  });

  test.each([
    ['First Name', 'first_name'], ['Last Name', 'last_name'], ['Email Address', 'email'], ['Email', 'email'],
    ['Employee ID', 'employee_id'], ['Unique ID', 'employee_id'], ['Program Eligibility', 'program_eligibility'],
    ['Status', 'status'], ['Employee Status', 'status'], ['Job Function', 'job_function'], ['Job Family', 'job_function'],
    ['Management Level', 'job_function'], ['Hire Start Date', 'hire_start_date'], ['Business Unit', 'business_unit'],
    ['Supervisor Organization', 'business_unit'], ['Department', 'business_unit'], ['Office Location', 'office_location'],
    ['City', 'city'], ['Country', 'country'], ['People Manager Status', 'people_manager_status'],
    ['High Potential Status', 'high_potential_status'], ['Gender', 'gender'], ['First Level Supervisor', 'first_level_supervisor'],
    ['Second Level Supervisor', 'second_level_supervisor'], ['Third Level Supervisor', 'third_level_supervisor'],
    ['Locale', 'locale'], ['Most Recent Role Start Date', 'most_recent_role_start_date'],
    ['Role Reason Change Code', 'role_reason_change_code'], ['most_recent_role_start_date', 'most_recent_role_start_date'],
    ['EMAIL_ADDRESS', 'email'],
  ])('built-in header %j -> %s', (header, field) => {
    expect(builtInField(header)).toBe(field);
  });

  test('no alias is claimed by two fields', () => {
    const seen = new Map<string, string>();
    for (const spec of FIELDS) {
      for (const header of [spec.name, spec.display, ...spec.aliases]) {
        const key = normalizeHeader(header);
        expect(seen.get(key) ?? spec.name, `${header} is claimed by ${seen.get(key)} and ${spec.name}`).toBe(spec.name);
        seen.set(key, spec.name);
      }
    }
  });
});

describe('mapHeaders', () => {
  test('maps in file order and ignores unknown columns with a warning', () => {
    const mapping = mapHeaders(['Email Address', 'Favourite Colour', 'First Name', 'Last Name', ''], noTenant);
    expect(mapping.fields).toEqual(['email', null, 'first_name', 'last_name', null]);
    expect(mapping.columns).toEqual(['email', 'first_name', 'last_name']);
    expect(mapping.warnings).toEqual([
      'unknown column "Favourite Colour" (column 2, ignored): map it in the tenant\'s columns or declare it as a custom segment',
      'column 5 has no header (ignored)',
    ]);
    expect(mapping.fatal).toBeUndefined();
  });

  test("the tenant's column map wins over the built-in aliases", () => {
    const tenant = { columns: { 'Department': 'cost_center', 'Work Mail': 'email' }, customSegments: ['cost_center'] };
    const mapping = mapHeaders(['First Name', 'Last Name', 'work_mail', 'Department', 'Business Unit'], tenant);
    expect(mapping.fields).toEqual(['first_name', 'last_name', 'email', 'cost_center', 'business_unit']);
  });

  test("an alias column for a field the tenant maps explicitly is ignored with a warning, not fatal", () => {
    const tenant = { columns: { 'Work Mail': 'email' }, customSegments: [] };
    const mapping = mapHeaders(['First Name', 'Last Name', 'Email', 'Work Mail'], tenant);
    expect(mapping.fatal).toBeUndefined();
    expect(mapping.fields).toEqual(['first_name', 'last_name', null, 'email']);
    expect(mapping.warnings).toEqual(['column 3 "Email" (ignored): the tenant config maps "Work Mail" to email']);
  });

  test('two explicitly mapped columns for one field are fatal', () => {
    const tenant = { columns: { 'Work Mail': 'email', 'Mail 2': 'email' }, customSegments: [] };
    expect(mapHeaders(['First Name', 'Last Name', 'Work Mail', 'Mail 2'], tenant).fatal?.message).toContain('both map to email');
  });

  test('a tenant mapping to an undeclared name is read, with a warning (typos show up)', () => {
    const mapping = mapHeaders(['First Name', 'Last Name', 'Email', 'Role'], { columns: { Role: 'job_funtion' }, customSegments: [] });
    expect(mapping.fields).toEqual(['first_name', 'last_name', 'email', 'job_funtion']);
    expect(mapping.warnings).toEqual([expect.stringContaining('"job_funtion", which is neither a field of the spec nor a declared custom segment')]);
  });

  test('a column the tenant maps to "" is ignored without a warning', () => {
    const mapping = mapHeaders(['First Name', 'Last Name', 'Email', 'Personal Phone'], { columns: { 'Personal Phone': '' }, customSegments: [] });
    expect(mapping.fields).toEqual(['first_name', 'last_name', 'email', null]);
    expect(mapping.warnings).toEqual([]);
  });

  test('custom segments are accepted columns', () => {
    const mapping = mapHeaders(['First Name', 'Last Name', 'Email', 'Cost Center'], { columns: {}, customSegments: ['cost_center'] });
    expect(mapping.columns).toEqual(['first_name', 'last_name', 'email', 'cost_center']);
    expect(mapping.warnings).toEqual([]);
  });

  test('two headers mapping to one field are fatal', () => {
    const mapping = mapHeaders(['First Name', 'Last Name', 'Email', 'Email Address'], noTenant);
    expect(mapping.fatal).toEqual({
      column: 'email',
      message: 'columns "Email" and "Email Address" both map to email: remove one of them or map one to another field in the tenant config',
    });
  });

  test('missing required columns are fatal, named, with the headers found', () => {
    const mapping = mapHeaders(['Given', 'Email'], noTenant);
    expect(mapping.fatal?.column).toBe('first_name, last_name');
    expect(mapping.fatal?.message).toBe(
      'missing required columns first_name ("First Name"), last_name ("Last Name"); the header row has: "Given", "Email"',
    );
  });
});
