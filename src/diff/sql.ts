/** A SQL string literal. Column names come from the file's (canonical) header, never raw into SQL. */
export function literal(value: string): string {
  if (value.includes('\u0000')) throw new Error('NUL character in a SQL literal');
  return `'${value.replace(/'/g, "''")}'`;
}

/** Positional staging column for file column I (names never become identifiers). */
export function stageColumn(index: number): string {
  return `c${index}`;
}
