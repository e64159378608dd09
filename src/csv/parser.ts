import { Parser, type Options } from 'csv-parse';

/**
 * csv-parse's Parser, taking each record synchronously as the parser emits it, with the physical line the
 * record starts on. Records never go through the readable side of the stream (an object-mode queue per
 * record costs as much as the parse itself), and `info`/`on_record` contexts are not built per record.
 *
 * Line numbers: csv-parse's `info.lines` counts a CRLF inside a quoted value as two lines, so the start
 * line is derived here: a record spanning one line (the common case) moves the line by one; a longer one by
 * one plus the newlines inside its values.
 */
export class LinedParser extends Parser {
  private nextLine = 1;
  private parserLines = 0;

  constructor(
    options: Options,
    private readonly onRecord: (cells: string[], line: number) => void,
  ) {
    super(options);
  }

  /** The line the record being parsed starts on (after the last emitted record). */
  get currentLine(): number {
    return this.nextLine;
  }

  override push(chunk: unknown): boolean {
    if (chunk === null) return super.push(null);
    const cells = chunk as string[];
    const line = this.nextLine;
    const lines = this.info.lines;
    const span = lines - this.parserLines;
    this.parserLines = lines;
    this.nextLine = span === 1 ? line + 1 : line + 1 + countNewlines(cells);
    this.onRecord(cells, line);
    return true;
  }
}

function countNewlines(cells: readonly string[]): number {
  let count = 0;
  for (const cell of cells) {
    let at = cell.indexOf('\n');
    while (at !== -1) {
      count++;
      at = cell.indexOf('\n', at + 1);
    }
  }
  return count;
}
