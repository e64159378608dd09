import { isValid } from 'date-fns/isValid';
import { parse } from 'date-fns/parse';
import { describe, expect, test } from 'vitest';
import { dateProblem, emailProblem, isEmail, isUsDate, localeProblem, segmentProblem, statusProblem } from '../src/fields/values.js';

describe('isUsDate: a real calendar date written MM/DD/YYYY', () => {
  test('agrees with date-fns strict parsing on every day of 1999-2001 and 2024 plus impossible days', () => {
    const reference = (text: string) => /^\d{2}\/\d{2}\/\d{4}$/.test(text) && isValid(parse(text, 'MM/dd/yyyy', new Date(2000, 0, 1)));
    let checked = 0;
    for (const year of [1999, 2000, 2001, 2024, 2100]) {
      for (let month = 0; month <= 13; month++) {
        for (let day = 0; day <= 32; day++) {
          const text = `${String(month).padStart(2, '0')}/${String(day).padStart(2, '0')}/${year}`;
          expect(isUsDate(text), text).toBe(reference(text));
          checked++;
        }
      }
    }
    expect(checked).toBe(5 * 14 * 33);
  });

  test('leap years', () => {
    expect(isUsDate('02/29/2024')).toBe(true);
    expect(isUsDate('02/29/2023')).toBe(false);
    expect(isUsDate('02/29/2000')).toBe(true);
    expect(isUsDate('02/29/1900')).toBe(false);
  });

  test.each(['2023-01-13', '1/5/2023', '01/5/2023', '01/13/23', '01-13-2023', '01/13/2023 ', 'O1/13/2023', '02/30/2023', '13/01/2023', '00/10/2023', '01/13/0000', ''])(
    'rejects %j',
    (text) => expect(isUsDate(text)).toBe(false),
  );

  test('explains what is wrong', () => {
    expect(dateProblem('2023-01-13')).toContain('looks like YYYY-MM-DD');
    expect(dateProblem('1/5/2023')).toContain('two digits');
    expect(dateProblem('13/01/2023')).toContain('looks like DD/MM/YYYY');
    expect(dateProblem('02/30/2023')).toContain('02/30/2023 is not a calendar date');
    expect(dateProblem('soon')).toBe('expected a date as MM/DD/YYYY, e.g. 01/13/2023');
  });
});

describe('isEmail', () => {
  test.each([
    'jane@example.com', 'jane.doe+hr@example.co.uk', "o'neil@example.com", 'JANE@EXAMPLE.COM', 'a_b-c@sub.example-corp.io',
    'zoë@exämple.de', 'x@xn--exmple-cua.com', '123@example.org',
  ])('accepts %j', (text) => expect(isEmail(text)).toBe(true));

  test.each([
    'jane', 'jane@', '@example.com', 'jane@example', 'jane doe@example.com', 'jane@exa mple.com', 'jane@@example.com',
    'jane@example..com', 'jane..doe@example.com', '.jane@example.com', 'jane.@example.com', 'jane@.example.com',
    'jane@example.c', 'jane@example.com.', '"jane"@example.com', 'jane@exam,ple.com', '<jane@example.com>', 'jane@-example.com',
    '=HYPERLINK("mailto:jane@example.com")',
  ])('rejects %j', (text) => expect(isEmail(text)).toBe(false));

  test('explains what is wrong', () => {
    expect(emailProblem('jane doe@example.com')).toContain('contains a space');
    expect(emailProblem('jane.example.com')).toContain('no "@"');
    expect(emailProblem('jane@@example.com')).toContain('more than one "@"');
    expect(emailProblem('=A1')).toContain('no "@"');
    expect(emailProblem('=HYPERLINK("mailto:a@b.com")')).toContain('spreadsheet formula');
  });
});

describe('messages', () => {
  test('status says values are case-sensitive and what to write', () => {
    expect(statusProblem('Inactive')).toBe('status must be "active" or "inactive"; values are case-sensitive: use "inactive"');
    expect(statusProblem('leave')).toBe('status must be "active" or "inactive" (case-sensitive)');
  });

  test('locale lists the supported locales and suggests the right spelling', () => {
    expect(localeProblem('de-DE')).toBe('locale must be one of en-US, fr-CA, es-ES, ko, ja, or blank for en-US');
    expect(localeProblem('fr_ca')).toContain('use "fr-CA"');
  });

  test('segment values follow the product wording', () => {
    expect(segmentProblem('Data Science', 'job_function')).toBe(
      'new segment value "Data Science" for job_function: add it to the hub before upload',
    );
    expect(segmentProblem('engineering', 'job_function', 'Engineering')).toContain('the hub has "Engineering"; values are case-sensitive');
  });
});
