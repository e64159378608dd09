/**
 * The canonical profile fields of the membership file (DESIGN.md "Field spec"; seeds 004 and 000),
 * their value rule and the header aliases they are known by.
 */

export type FieldRule =
  | 'text'
  | 'email'
  | 'eligibility'
  | 'status'
  | 'yes_no'
  | 'date'
  | 'locale';

export interface FieldSpec {
  /** Canonical name (lower snake case), as in the seeds' "XML alias" column. */
  name: string;
  /** The display header of the seeds' example file. */
  display: string;
  required: boolean;
  rule: FieldRule;
  /**
   * Other headers that mean this field (matched with normalizeHeader): the seeds' names, plus a few
   * unambiguous HRIS spellings. Kept short on purpose: an alias that also matches a second column of the
   * same file makes the file fail ("both map to ..."), and a loose one (e.g. "Language" -> locale) would
   * apply a rule to values that were never meant for it.
   */
  aliases: string[];
  /** Segment text fields: a tenant's data-mapping table may restrict their values. */
  segment: boolean;
  /**
   * The most characters a value may have. Set on the key fields: a member's key is in the stores' btree
   * indexes, whose entries PostgreSQL caps at 2,704 bytes; a longer key failed the whole run with a raw
   * database error instead of an error on its row. 254 characters is the longest address mail accepts.
   */
  maxLength?: number;
  /**
   * What a blank cell means (stored in its place), and so what a stored row without the field compares as:
   * a file adding a blank Locale column changes nobody's locale (en-US before, en-US now).
   */
  blank?: string;
}

function field(
  name: string,
  display: string,
  rule: FieldRule,
  aliases: string[] = [],
  options: { required?: boolean; segment?: boolean; maxLength?: number; blank?: string } = {},
): FieldSpec {
  return {
    name,
    display,
    rule,
    aliases,
    required: options.required ?? false,
    segment: options.segment ?? rule === 'text',
    ...(options.maxLength ? { maxLength: options.maxLength } : {}),
    ...(options.blank ? { blank: options.blank } : {}),
  };
}

export const DEFAULT_LOCALE = 'en-US';

/** The 19 columns of the seeds' SCIM table in its order, then City and Country (seed 004). */
export const FIELDS: readonly FieldSpec[] = [
  field('first_name', 'First Name', 'text', ['Given Name'], { required: true, segment: false }),
  field('last_name', 'Last Name', 'text', ['Surname', 'Family Name'], { required: true, segment: false }),
  field('email', 'Email Address', 'email', ['Email', 'Work Email'], { required: true, maxLength: 254 }),
  field('employee_id', 'Employee ID', 'text', ['Unique ID', 'Employee Number'], { segment: false, maxLength: 255 }),
  field('program_eligibility', 'Program Eligibility', 'eligibility'),
  field('status', 'Status', 'status', ['Employee Status']),
  field('job_function', 'Job Function', 'text', ['Job Family', 'Management Level']),
  field('hire_start_date', 'Hire Start Date', 'date', ['Hire Date']),
  field('business_unit', 'Business Unit', 'text', ['Supervisor Organization', 'Department']),
  field('office_location', 'Office Location', 'text', ['Office']),
  field('people_manager_status', 'People Manager Status', 'yes_no'),
  field('high_potential_status', 'High Potential Status', 'yes_no'),
  field('gender', 'Gender', 'text'),
  field('first_level_supervisor', 'First Level Supervisor', 'text'),
  field('second_level_supervisor', 'Second Level Supervisor', 'text'),
  field('third_level_supervisor', 'Third Level Supervisor', 'text'),
  field('locale', 'Locale', 'locale', [], { blank: DEFAULT_LOCALE }),
  field('most_recent_role_start_date', 'Most Recent Role Start Date', 'date'),
  field('role_reason_change_code', 'Role Reason Change Code', 'text'),
  // In seed 004's list (SFTP guide) but not in the SCIM table's 19 columns.
  field('city', 'City', 'text'),
  field('country', 'Country', 'text'),
];

export const FIELD_BY_NAME: ReadonlyMap<string, FieldSpec> = new Map(FIELDS.map((f) => [f.name, f]));

export const REQUIRED_FIELDS: readonly string[] = FIELDS.filter((f) => f.required).map((f) => f.name);

/** The 19 display headers of a full membership file in the seeds' format, in order. */
export const SAMPLE_HEADERS: readonly string[] = FIELDS.slice(0, 19).map((f) => f.display);

export const LOCALES = ['en-US', 'fr-CA', 'es-ES', 'ko', 'ja'] as const;

/** What a blank FIELD is stored as, and what a stored row without FIELD compares as ('' but for locale). */
export function blankValue(field: string): string {
  return FIELD_BY_NAME.get(field)?.blank ?? '';
}
