/** A one-line "records so far" indicator on a terminal; silent when stderr is not a TTY. */
export interface Progress {
  /** Pass to the engine as onProgress; undefined when no progress is shown. */
  onProgress?: (records: number) => void;
  /** Clears the line (call before printing the summary). */
  finish(): void;
}

// Small files finish before this; only long reads get a progress line.
const SHOW_AFTER_MS = 1000;
const REDRAW_EVERY_MS = 250;

export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { finish: () => undefined };
  const started = Date.now();
  let lastDrawn = 0;
  let drawn = false;
  return {
    onProgress(records: number) {
      const now = Date.now();
      if (now - started < SHOW_AFTER_MS || now - lastDrawn < REDRAW_EVERY_MS) return;
      lastDrawn = now;
      drawn = true;
      const seconds = Math.max(1, Math.round((now - started) / 1000));
      stream.write(`\r\x1b[K${label}: ${records.toLocaleString('en-US')} records (${seconds}s)`);
    },
    finish() {
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
