const DATE_LIKE = /(?<![0-9])\d{1,4}[.\-_]\d{1,2}[.\-_]\d{1,4}(?![0-9])/;

/**
 * The run's warning when a file name gives no date (none, or one that is not a real MM.DD.YYYY such as
 * 13.01.2023): the processing date names the output files, and the stale-file check cannot compare it.
 * None for a baseline (the platform's export). Digits only are quoted back, never other customer text.
 */
export function fileNameDateWarning(fileName: string, options: { fileDate: Date | null; baseline?: boolean }): string[] {
  if (options.fileDate || options.baseline) return [];
  const base = fileName.replace(/^.*[\\/]/, '');
  const found = DATE_LIKE.exec(base);
  const consequence =
    "the processing date is used instead (output file names), and the file cannot be checked against the date of the tenant's last accepted file";
  return [
    found
      ? `the date ${found[0]} in the file name is not a valid MM.DD.YYYY date: ${consequence} (ask the customer to name files like Company - 01.13.2023.csv)`
      : `the file name has no date (MM.DD.YYYY): ${consequence} (ask the customer to name files like Company - 01.13.2023.csv)`,
  ];
}
