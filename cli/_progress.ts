// A progress bar on stderr for long CLI operations. It draws only when stderr
// is a terminal, so piped and captured output stays exactly as documented,
// and only once an operation has run for a moment, so quick ones stay quiet.
import type { Io } from "./_context.ts";

/** A running progress bar. */
export interface Progress {
  /** Records `n` more items done (default 1). */
  tick(n?: number): void;
  /** Stops redrawing; the last line shows the final count if the bar was shown. Safe to call twice. */
  done(): void;
}

/** Operations that finish sooner than this never show a bar. */
export const PROGRESS_DELAY_MS = 200;
const WIDTH = 24;
/** Cursor up one line, then clear it: each draw replaces the previous one. */
const REDRAW = "\x1b[1A\x1b[2K";

/**
 * Starts a progress bar labelled `label` for `total` items, drawn on stderr
 * through `io.err` when `io.stderrIsTty` is true (never otherwise). It
 * appears after {@linkcode PROGRESS_DELAY_MS}, redraws at most ten times a
 * second, and at least once a second while nothing moves, so the elapsed
 * time shows that a long atomic step is still running.
 */
export function progressBar(io: Io, label: string, total: number): Progress {
  if (!io.stderrIsTty) return { tick() {}, done() {} };
  const start = Date.now();
  let count = 0;
  let drawn = false;
  let lastDraw = 0;
  let finished = false;
  const draw = () => {
    const fraction = total > 0 ? Math.min(1, count / total) : finished ? 1 : 0;
    const filled = Math.round(fraction * WIDTH);
    const seconds = ((Date.now() - start) / 1000).toFixed(1);
    const line = `${label} [${"#".repeat(filled)}${"-".repeat(WIDTH - filled)}] ${
      Math.floor(fraction * 100)
    }% ${count}/${total} ${seconds}s`;
    io.err((drawn ? REDRAW : "") + line);
    drawn = true;
    lastDraw = Date.now();
  };
  const delay = io.progressDelayMs ?? PROGRESS_DELAY_MS;
  const due = () => Date.now() - start >= delay;
  const timer = setInterval(() => {
    if (due() && (!drawn || Date.now() - lastDraw >= 1000)) draw();
  }, 100);
  return {
    tick(n = 1) {
      if (finished) return;
      count += n;
      if (due() && Date.now() - lastDraw >= 100) draw();
    },
    done() {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      if (drawn) draw();
    },
  };
}
