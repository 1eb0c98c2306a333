// Retries with exponential backoff and full jitter, for transient backend
// faults only. Validation, not-found and conflict errors are never retried.
import { BackendError } from "../errors.ts";

/** How transient faults are retried. */
export interface RetryOptions {
  /** Total attempts, the first included. Default 5; 1 turns retries off. */
  attempts?: number;
  /** Delay before the first retry, in ms; doubles each time. Default 25. */
  baseDelayMs?: number;
  /** Upper bound of one delay, in ms. Default 1000. */
  maxDelayMs?: number;
  /** No retry starts after this many ms since the first attempt. Default 10000. */
  timeoutMs?: number;
}

/** Whether an error is worth retrying. */
export function isTransient(error: unknown): boolean {
  return error instanceof BackendError && error.transient;
}

/**
 * Runs `fn`, retrying transient failures by `options`. The first attempt is
 * not wrapped in an async function: on the hot path (no failure) this costs
 * one `catch` handler, not an extra promise and await per call.
 */
export function withRetry<T>(
  options: Required<RetryOptions>,
  fn: () => Promise<T>,
): Promise<T> {
  const start = Date.now();
  let first: Promise<T>;
  try {
    first = fn();
  } catch (error) {
    first = Promise.reject(error);
  }
  return first.catch((error) => retry(options, fn, start, error));
}

/** The attempts after a first one that failed with `error`. */
async function retry<T>(
  options: Required<RetryOptions>,
  fn: () => Promise<T>,
  start: number,
  error: unknown,
): Promise<T> {
  // Whether an earlier attempt may have been applied (its reply was lost).
  let unknown = false;
  for (let attempt = 1;; attempt++) {
    const delay = Math.random() *
      Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** (attempt - 1));
    if (
      !isTransient(error) || attempt >= options.attempts ||
      Date.now() - start + delay > options.timeoutMs
    ) throw unknown ? outcomeUnknown(error) : error;
    unknown ||= error instanceof BackendError && error.outcomeUnknown;
    await new Promise((resolve) => setTimeout(resolve, delay));
    try {
      return await fn();
    } catch (next) {
      error = next;
    }
  }
}

// The last attempt failed before reaching the storage, but an earlier one
// may have been applied: the caller must not read the failure as "not written".
function outcomeUnknown(error: unknown): unknown {
  if (!(error instanceof BackendError) || error.outcomeUnknown) return error;
  return new BackendError(
    `${error.message} An earlier attempt's reply was lost: it may have been applied.`,
    { cause: error, transient: error.transient, outcomeUnknown: true },
  );
}

/** Fills in the defaults. */
export function retryPolicy(
  options: RetryOptions | false | undefined,
): Required<RetryOptions> {
  if (options === false) {
    return { attempts: 1, baseDelayMs: 0, maxDelayMs: 0, timeoutMs: 0 };
  }
  return {
    attempts: options?.attempts ?? 5,
    baseDelayMs: options?.baseDelayMs ?? 25,
    maxDelayMs: options?.maxDelayMs ?? 1000,
    timeoutMs: options?.timeoutMs ?? 10_000,
  };
}
