/**
 * The one accept loop every listener of the project runs: it survives any
 * per-connection error and keeps accepting until its listener is closed.
 *
 * Deno's `Listener.accept()` throws for errors that concern one connection
 * only: a peer that reset before the accept completed (`NotConnected`,
 * os error 107, or `ConnectionAborted`/`ConnectionReset`), and for
 * resource exhaustion (`EMFILE`/`ENFILE`: out of file descriptors,
 * `ENOBUFS`/`ENOMEM`). None of these closes the listener. Leaving the loop
 * on them would leave the port open with nobody accepting: clients would
 * connect and hang. So the loop ends only when the listener itself is
 * closed (`BadResource`/`Interrupted` after `close()`), waits a short
 * back-off after resource exhaustion (a tight retry would spin at 100%
 * CPU while nothing can be accepted), and logs each kind of error once.
 *
 * @module
 */

/** Back-off after a resource-exhaustion error, growing to {@linkcode MAX_BACKOFF_MS}. */
export const FIRST_BACKOFF_MS = 10;
/** The longest back-off after resource exhaustion. */
export const MAX_BACKOFF_MS = 1000;

/** Options for {@linkcode acceptLoop}. */
export interface AcceptLoopOptions {
  /** What the listener is, for the log (`console tcp:127.0.0.1:3333`). */
  name: string;
  /** Called once per kind of error (per loop), with a one-line message. */
  log?: (message: string) => void;
  /**
   * Whether the listener has been closed on purpose; a failing accept
   * then ends the loop. Without it, only `BadResource` and `Interrupted`
   * (what Deno throws after `close()`) end it.
   */
  closed?: () => boolean;
}

/** Counts of what an accept loop met, for tests and the soak. */
export interface AcceptStats {
  /** Connections handed out. */
  accepted: number;
  /** Errors by kind (`NotConnected`, `EMFILE`, ...), each logged once. */
  errors: Map<string, number>;
}

/** The kind of an accept error: a Deno error class name or an errno code. */
export function errorKind(e: unknown): string {
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "") return code;
    const errno = /os error (\d+)/.exec(e.message)?.[1];
    const byErrno: Record<string, string> = {
      "23": "ENFILE",
      "24": "EMFILE",
      "103": "ECONNABORTED",
      "104": "ECONNRESET",
      "105": "ENOBUFS",
      "107": "ENOTCONN",
      "12": "ENOMEM",
    };
    if (errno && byErrno[errno]) return byErrno[errno];
    return e.name;
  }
  return typeof e;
}

/**
 * Kinds that concern one connection only: the next accept goes on at
 * once. Every other kind (out of descriptors or memory, or unknown) waits
 * a back-off first, so that nothing can make the loop spin.
 */
const PER_CONNECTION = new Set([
  "ENOTCONN",
  "ECONNABORTED",
  "ECONNRESET",
  "EPROTO",
  "EPERM",
  "NotConnected",
  "ConnectionAborted",
  "ConnectionReset",
]);

/** Whether an accept error means the listener itself is gone. */
function listenerGone(e: unknown): boolean {
  return e instanceof Deno.errors.BadResource ||
    e instanceof Deno.errors.Interrupted;
}

/**
 * Accepts connections from `listener` and hands each to `onConnection`
 * (which must not throw; a throw is logged like an accept error) until the
 * listener is closed. Resolves then, never rejects. `stats` (optional) is
 * updated as it goes.
 */
export async function acceptLoop<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  onConnection: (conn: C) => void,
  options: AcceptLoopOptions,
  stats: AcceptStats = { accepted: 0, errors: new Map() },
): Promise<void> {
  let backoff = 0;
  while (true) {
    let conn: C;
    try {
      conn = await listener.accept();
    } catch (e) {
      if (listenerGone(e) || options.closed?.()) return;
      const kind = errorKind(e);
      const seen = stats.errors.get(kind) ?? 0;
      stats.errors.set(kind, seen + 1);
      if (seen === 0) {
        options.log?.(
          `${options.name}: accept failed (${kind}: ${
            e instanceof Error ? e.message : String(e)
          }); still accepting${
            PER_CONNECTION.has(kind) ? "" : ", with a short back-off"
          } (further ${kind} errors are counted, not logged)`,
        );
      }
      if (!PER_CONNECTION.has(kind)) {
        backoff = Math.min(
          backoff ? backoff * 2 : FIRST_BACKOFF_MS,
          MAX_BACKOFF_MS,
        );
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
      continue;
    }
    backoff = 0;
    stats.accepted++;
    try {
      onConnection(conn);
    } catch (e) {
      const kind = `handler ${errorKind(e)}`;
      const seen = stats.errors.get(kind) ?? 0;
      stats.errors.set(kind, seen + 1);
      if (seen === 0) {
        options.log?.(
          `${options.name}: a connection failed (${
            e instanceof Error ? e.message : String(e)
          })`,
        );
      }
      try {
        conn.close();
      } catch { /* already closed */ }
    }
  }
}
