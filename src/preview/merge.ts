import type { ValidationIssue } from '../csv/types.js';

/**
 * The engine lists a run's errors by line, then by the order they were written (src/output/render.ts):
 * the reader's issues (in line order) first, then the checks' (also in line order). Merges the two.
 */
export function* mergeIssues(reader: Iterable<ValidationIssue>, checks: Iterable<ValidationIssue>): Generator<ValidationIssue> {
  const ready: ValidationIssue[] = [];
  const merger = new IssueMerger(checks, (issue) => ready.push(issue));
  for (const issue of reader) {
    merger.push(issue);
    yield* ready.splice(0);
  }
  yield* merger.rest();
}

/** The merge, fed one reader issue at a time (while a pass over the file writes them out). */
export class IssueMerger {
  private readonly later: Iterator<ValidationIssue>;
  private next: IteratorResult<ValidationIssue>;

  constructor(checks: Iterable<ValidationIssue>, private readonly emit: (issue: ValidationIssue) => void) {
    this.later = checks[Symbol.iterator]();
    this.next = this.later.next();
  }

  push(issue: ValidationIssue): void {
    while (!this.next.done && this.next.value.line < issue.line) {
      this.emit(this.next.value);
      this.next = this.later.next();
    }
    this.emit(issue);
  }

  /** The checks' issues after the last line the reader had an issue on, for the caller to emit. */
  *rest(): Generator<ValidationIssue> {
    while (!this.next.done) {
      yield this.next.value;
      this.next = this.later.next();
    }
  }
}
