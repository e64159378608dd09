/** A one-line "records so far" indicator on a terminal; silent when stderr is not a TTY. */
export interface Progress {
  /** Pass to the engine as onProgress; undefined when no progress is shown. */
  onProgress?: (records: number) => void;
  /** Clears the line (call before printing the summary). */
  finish(): void;
}

// Small files finish before this; only long runs get a progress line.
const SHOW_AFTER_MS = 1000;
const REDRAW_EVERY_MS = 500;

/**
 * Redrawn on a timer rather than per callback, so the line keeps moving (elapsed time) after the
 * last record was read, while the engine diffs and writes the files.
 */
export function terminalProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { finish: () => undefined };
  const started = Date.now();
  let records = 0;
  let drawn = false;
  const draw = () => {
    const seconds = Math.round((Date.now() - started) / 1000);
    const done = records > 0 ? `${records.toLocaleString('en-US')} records read` : 'reading';
    stream.write(`\r\x1b[K${label}: ${done} (${seconds}s)`);
    drawn = true;
  };
  let timer: NodeJS.Timeout | undefined = setTimeout(function tick() {
    draw();
    timer = setTimeout(tick, REDRAW_EVERY_MS).unref();
  }, SHOW_AFTER_MS).unref();
  return {
    onProgress(count: number) {
      records = count;
    },
    finish() {
      if (timer) clearTimeout(timer);
      timer = undefined;
      if (drawn) stream.write('\r\x1b[K');
      drawn = false;
    },
  };
}
