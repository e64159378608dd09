import { quoted } from '../fields/bounded.js';
import type { CsvSyntaxError } from './records.js';

/** Syntax errors in words a customer's ETL engineer can act on (no cell values: they may be logged). */
export function parseErrorMessage(error: CsvSyntaxError, line: number, column: string, maxRecordBytes: number): string {
  const where = `in the record starting on line ${line}${column ? `, column ${quoted(column, 60)}` : ''}`;
  switch (error.code) {
    case 'CSV_QUOTE_NOT_CLOSED':
      return `broken quoting: a quoted value ${where} is never closed; close the quote and write quotes inside a quoted value as ""`;
    case 'CSV_INVALID_CLOSING_QUOTE':
      return `broken quoting ${where}: a closing quote must be followed by a comma or the end of the line; write quotes inside a quoted value as ""`;
    case 'INVALID_OPENING_QUOTE':
      return `broken quoting ${where}: a quote inside an unquoted value; put the whole value in quotes and double the quote ("")`;
    case 'CSV_MAX_RECORD_SIZE':
      return `the record starting on line ${line} is larger than ${maxRecordBytes} bytes: look for an unclosed quote that swallows the following lines, or a value that is far too long`;
  }
}
