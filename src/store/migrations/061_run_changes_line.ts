/**
 * The output files list a run's invites and updates in file order: this index hands them over in that
 * order, where the render sorted them first. For a 1M-row first file the sort of ~920k invites spilled
 * 160 MB to disk and took 7.0 s of the file's rendering; read through this index, 2.0 s. Its upkeep on
 * that file's 1M-row insert into run_changes was within the run-to-run noise (about 1 s of 12) here.
 */
export const sql = /* sql */ `
create index run_changes_line_idx on run_changes (run_id, kind, line);
`;
