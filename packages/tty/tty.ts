/**
 * Serial devices and pseudo-terminals through libc (Deno FFI, Linux):
 * a pty whose slave path tio, picocom, minicom, socat or host firmware can
 * open as the virtual module's UART, and real tty devices opened raw at a
 * baud rate, 8N1. The one blocking call, `poll`, runs off the main thread
 * (a `nonblocking` FFI symbol) with a short timeout, so that closing is
 * noticed at once and no thread stays blocked; `read` runs only once poll
 * said there is data (the descriptor is non-blocking), on the main thread,
 * so its errno can be read. On a serial device a hang-up (`POLLHUP`,
 * `POLLERR`, `EIO`: a USB adapter unplugged, the other side of a pty
 * closed) ends the readable, and writes then throw a `SerialError` of kind
 * `disconnected`. On a pty master `POLLHUP` only means that no client has
 * the slave open: output is then discarded until one does.
 *
 * @module
 */

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const POLLIN = 0x1;
const POLLOUT = 0x4;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const TCIFLUSH = 0;
const TCSANOW = 0;
const TIOCEXCL = 0x540c;
const LOCK_EX = 2;
const LOCK_NB = 4;
const EAGAIN = 11;
const EIO = 5;
const EINTR = 4;
const CSIZE = 0o60;
const CS8 = 0o60;
const PARENB = 0o400;
const CSTOPB = 0o100;
const CLOCAL = 0o4000;
const CREAD = 0o200;
const CRTSCTS = 0o20000000000;
const TERMIOS_SIZE = 60;
const POLL_MS = 50;

const BAUD: Record<number, number> = {
  1200: 0o11,
  2400: 0o13,
  4800: 0o14,
  9600: 0o15,
  19200: 0o16,
  38400: 0o17,
  57600: 0o10001,
  115200: 0o10002,
  230400: 0o10003,
  460800: 0o10004,
  500000: 0o10005,
  576000: 0o10006,
  921600: 0o10007,
  1000000: 0o10010,
  1152000: 0o10011,
  1500000: 0o10012,
  2000000: 0o10013,
  2500000: 0o10014,
  3000000: 0o10015,
  3500000: 0o10016,
  4000000: 0o10017,
};

const SYMBOLS = {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname: { parameters: ["i32"], result: "pointer" },
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  poll: {
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  cfsetispeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfsetospeed: { parameters: ["buffer", "u32"], result: "i32" },
  cfgetospeed: { parameters: ["buffer"], result: "u32" },
  ioctl: { parameters: ["i32", "u64"], result: "i32" },
  flock: { parameters: ["i32", "i32"], result: "i32" },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | undefined;

function lib(): Libc {
  libc ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return libc;
}

function errno(): number {
  const p = lib().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(text);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Why opening a serial device failed. */
export type SerialErrorKind =
  | "not-found"
  | "busy"
  | "permission"
  | "not-a-tty"
  | "disconnected"
  | "other";

/**
 * Opening a serial device failed, or (kind `disconnected`) an open one went
 * away; `kind` says why in a word.
 */
export class SerialError extends Error {
  /** not-found, busy, permission, not-a-tty, disconnected or other. */
  readonly kind: SerialErrorKind;
  /** The C errno. */
  readonly errno: number;
  /** The device path. */
  readonly path: string;

  /** Creates the error with a message a technician can act on. */
  constructor(kind: SerialErrorKind, path: string, code: number) {
    const what: Record<SerialErrorKind, string> = {
      "not-found":
        "no such device (is the cable plugged in? check ls /dev/tty*)",
      busy:
        "the device is in use by another program (close it, or check with fuser)",
      permission:
        "permission denied (add yourself to the dialout group, or grant --allow-read/--allow-write)",
      "not-a-tty": "not a serial device",
      disconnected:
        "the device went away (cable or adapter unplugged, or the other side of the pty closed)",
      other: `cannot be opened (errno ${code})`,
    };
    super(`${path}: ${what[kind]}`);
    this.name = "SerialError";
    this.kind = kind;
    this.errno = code;
    this.path = path;
  }
}

/** What a pty master's stream needs to know whether a client is there. */
interface PtySide {
  /** The slave path, opened briefly to flush what a client left unread. */
  slavePath: string;
  /** Called when a client opens the slave (true) or the last one closes it (false). */
  onPeer?: (present: boolean) => void;
}

/**
 * A byte stream over a file descriptor of a tty or pty. On a pty master
 * (`pty` given) it tracks whether a client has the slave open: the master
 * polls with POLLHUP while nobody does; writes are then discarded, and
 * what the last client left unread is flushed when it goes. On a serial
 * device a hang-up ends the readable and fails writes with a
 * `SerialError` of kind `disconnected`.
 */
class TtyStream {
  readonly readable: ReadableStream<Uint8Array>;
  #fd: number;
  #path: string;
  #closed = false;
  #hungUp = 0; // errno of a device's hang-up (EIO when poll reported it), 0 while up.
  #inFlight = new Set<Promise<unknown>>();
  #pty: PtySide | undefined;
  #peer: boolean;
  #nap: { wake: () => void } | undefined;

  constructor(fd: number, path: string, pty?: PtySide) {
    this.#fd = fd;
    this.#path = path;
    this.#pty = pty;
    this.#peer = pty === undefined;
    const buf = new Uint8Array(64 * 1024);
    this.readable = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (!this.#closed && !this.#hungUp) {
          const revents = await this.#poll(POLLIN);
          if (this.#closed) break;
          if (revents > 0 && (revents & POLLIN) !== 0) {
            // Poll said there is data: this read does not block.
            const n = Number(lib().read(this.#fd, buf, BigInt(buf.length)));
            if (n > 0) {
              this.#setPeer(true);
              controller.enqueue(buf.slice(0, n));
              return;
            }
            const code = n < 0 ? errno() : EIO;
            if (!this.#pty && code !== EAGAIN && code !== EINTR) {
              this.#hungUp = code;
              break;
            }
          }
          if (revents > 0 && (revents & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
            if (!this.#pty) {
              this.#hungUp = EIO; // The device went away.
              break;
            }
            // Nobody has the slave open: poll returns at once, so wait
            // between looks.
            this.#setPeer(false);
            await this.#sleep(POLL_MS);
          } else if (revents === 0) {
            this.#setPeer(true); // A quiet poll with no hang-up: a client is there.
          } else await this.#sleep(10); // EAGAIN or EINTR: wait a little.
        }
        controller.close();
      },
      cancel: () => this.close(),
    });
  }

  /** Whether a client has the pty's slave open (always true for a device). */
  get peer(): boolean {
    return this.#peer;
  }

  #setPeer(present: boolean): void {
    if (this.#pty === undefined || present === this.#peer) return;
    this.#peer = present;
    if (!present) this.#flushSlave();
    this.#pty.onPeer?.(present);
  }

  /** Drops what the client that went left unread, so the next one reads only new bytes. */
  #flushSlave(): void {
    const c = lib();
    const fd = c.open(
      cString(this.#pty!.slavePath),
      O_RDWR | O_NOCTTY | O_NONBLOCK,
      0,
    );
    if (fd < 0) return; // A new client holds it exclusively: it is there.
    c.tcflush(fd, TCIFLUSH);
    c.close(fd);
  }

  #track<T>(op: Promise<T>): Promise<T> {
    this.#inFlight.add(op);
    op.finally(() => this.#inFlight.delete(op)).catch(() => {});
    return op;
  }

  /** A wait that closing cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#nap = undefined;
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#nap = { wake };
    });
  }

  /** Polls off the main thread: the returned events, 0 on timeout, -1 on error. */
  async #poll(events: number): Promise<number> {
    const fds = new Uint8Array(8);
    const view = new DataView(fds.buffer);
    view.setInt32(0, this.#fd, true);
    view.setInt16(4, events, true);
    const r = await this.#track(lib().poll(fds, 1n, POLL_MS));
    return r > 0 ? view.getInt16(6, true) : r === 0 ? 0 : -1;
  }

  async write(data: Uint8Array): Promise<void> {
    let offset = 0;
    const copy = data.slice();
    while (offset < copy.length) {
      if (this.#closed) throw new Deno.errors.BadResource("tty is closed");
      if (this.#hungUp) {
        throw new SerialError("disconnected", this.#path, this.#hungUp);
      }
      // Nobody on a pty's line: the bytes go into the void, as on a UART.
      if (!this.#peer) return;
      const n = Number(
        lib().write(
          this.#fd,
          copy.subarray(offset),
          BigInt(copy.length - offset),
        ),
      );
      if (n > 0) {
        offset += n;
        continue;
      }
      const code = errno();
      if (n < 0 && code !== EAGAIN && code !== EINTR) {
        if (this.#pty) return; // The client went between poll and write.
        this.#hungUp = code;
        throw new SerialError("disconnected", this.#path, code);
      }
      const revents = await this.#poll(POLLOUT);
      if (revents > 0 && (revents & (POLLHUP | POLLERR | POLLNVAL)) !== 0) {
        if (this.#pty) return; // The client went: the rest is discarded.
        this.#hungUp = EIO;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#nap?.wake();
    // Let in-flight polls finish (at most one poll interval) before the
    // descriptor is closed and possibly reused.
    await Promise.allSettled([...this.#inFlight]);
    lib().close(this.#fd);
  }
}

/** A pseudo-terminal master whose slave path clients open. */
export interface Pty {
  /** The slave path, e.g. `/dev/pts/7`. */
  readonly path: string;
  /** Whether a client has the slave open (as last seen by the reader of `readable`). */
  readonly peer: boolean;
  /** Bytes written by whoever has the slave open; ends only on close. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Writes every byte to the master; discarded while no client is there. */
  write(data: Uint8Array): Promise<void>;
  /** Closes the pty; the readable ends. Idempotent. */
  close(): Promise<void>;
}

/** Options for {@linkcode openPty}. */
export interface PtyOptions {
  /**
   * Called when a client opens the slave (true) and when the last one
   * closes it (false); seen while `readable` is being read. Bytes a client
   * sent before closing come first.
   */
  onPeer?: (present: boolean) => void;
}

function rawTermios(fd: number, baud?: number, rtscts = false): void {
  const t = new Uint8Array(TERMIOS_SIZE);
  if (lib().tcgetattr(fd, t) !== 0) {
    throw new Error(`tcgetattr failed (errno ${errno()})`);
  }
  lib().cfmakeraw(t);
  const view = new DataView(t.buffer);
  let cflag = view.getUint32(8, true);
  cflag = (cflag & ~(CSIZE | PARENB | CSTOPB | CRTSCTS)) | CS8 | CLOCAL | CREAD;
  if (rtscts) cflag |= CRTSCTS;
  view.setUint32(8, cflag >>> 0, true);
  if (baud !== undefined) {
    lib().cfsetispeed(t, BAUD[baud]);
    lib().cfsetospeed(t, BAUD[baud]);
  }
  if (lib().tcsetattr(fd, TCSANOW, t) !== 0) {
    throw new Error(`tcsetattr failed (errno ${errno()})`);
  }
}

/**
 * Opens a new pseudo-terminal (Linux, needs `--allow-ffi`). Its slave is
 * set raw (no echo, no CR/LF translation) once, and the setting stays for
 * every client. While no client has the slave open, writes are discarded,
 * as bytes sent on a UART with nothing connected.
 */
export function openPty(options: PtyOptions = {}): Pty {
  const c = lib();
  const master = c.posix_openpt(O_RDWR | O_NOCTTY | O_NONBLOCK);
  if (master < 0) throw new Error(`posix_openpt failed (errno ${errno()})`);
  if (c.grantpt(master) !== 0 || c.unlockpt(master) !== 0) {
    const code = errno();
    c.close(master);
    throw new Error(`grantpt/unlockpt failed (errno ${code})`);
  }
  const name = c.ptsname(master);
  if (!name) {
    c.close(master);
    throw new Error(`ptsname failed (errno ${errno()})`);
  }
  const path = new Deno.UnsafePointerView(name).getCString();
  // Open the slave once to make it raw; closing it leaves the master
  // polling POLLHUP until a client opens it.
  const slave = c.open(cString(path), O_RDWR | O_NOCTTY | O_NONBLOCK, 0);
  if (slave < 0) {
    const code = errno();
    c.close(master);
    throw new Error(`open ${path} failed (errno ${code})`);
  }
  try {
    rawTermios(slave);
  } catch (e) {
    c.close(master);
    throw e;
  } finally {
    c.close(slave);
  }
  const stream = new TtyStream(master, path, {
    slavePath: path,
    onPeer: options.onPeer,
  });
  return {
    path,
    get peer() {
      return stream.peer;
    },
    readable: stream.readable,
    write: (data) => stream.write(data),
    close: () => stream.close(),
  };
}

/** Options for {@linkcode openSerial}. */
export interface SerialOptions {
  /** Baud rate (default 38400, the module's default). */
  baud?: number;
  /** RTS/CTS hardware flow control (default off). */
  rtscts?: boolean;
}

/** An open serial device. */
export interface SerialPort {
  /** The device path. */
  readonly path: string;
  /** Bytes from the device. */
  readonly readable: ReadableStream<Uint8Array>;
  /** Writes every byte. */
  write(data: Uint8Array): Promise<void>;
  /** Closes the device. Idempotent. */
  close(): Promise<void>;
  /** The output speed in force, read back from the device. */
  readonly baud: number;
  /** Whether RTS/CTS flow control is on, read back from the device. */
  readonly rtscts: boolean;
}

/** What an `open` errno means for a serial device. */
export function serialErrorKind(code: number): SerialErrorKind {
  switch (code) {
    case 2: // ENOENT
    case 19: // ENODEV
    case 6: // ENXIO
      return "not-found";
    case 13: // EACCES
    case 1: // EPERM
      return "permission";
    case 16: // EBUSY
    case EAGAIN: // EWOULDBLOCK from flock
      return "busy";
    case 25: // ENOTTY
      return "not-a-tty";
    default:
      return "other";
  }
}

/**
 * Opens a tty device raw, 8N1, at a baud rate, exclusively (a second opener
 * gets `busy`). Throws {@linkcode SerialError} or a `RangeError` for an
 * unknown baud rate.
 */
export function openSerial(
  path: string,
  options: SerialOptions = {},
): SerialPort {
  const baud = options.baud ?? 38400;
  if (BAUD[baud] === undefined) {
    throw new RangeError(
      `baud ${baud} is not one of ${Object.keys(BAUD).join(", ")}`,
    );
  }
  const c = lib();
  const fd = c.open(cString(path), O_RDWR | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0) {
    const code = errno();
    throw new SerialError(serialErrorKind(code), path, code);
  }
  const fail = (kind: SerialErrorKind, code: number): never => {
    c.close(fd);
    throw new SerialError(kind, path, code);
  };
  const probe = new Uint8Array(TERMIOS_SIZE);
  if (c.tcgetattr(fd, probe) !== 0) fail("not-a-tty", errno());
  // flock also stops root, whom TIOCEXCL does not.
  if (c.flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const code = errno();
    fail(code === EAGAIN ? "busy" : "other", code);
  }
  c.ioctl(fd, BigInt(TIOCEXCL));
  try {
    rawTermios(fd, baud, options.rtscts ?? false);
  } catch {
    fail("other", errno());
  }
  const t = new Uint8Array(TERMIOS_SIZE);
  c.tcgetattr(fd, t);
  const speed = c.cfgetospeed(t);
  const actual = Number(
    Object.entries(BAUD).find(([, v]) => v === speed)?.[0] ?? 0,
  );
  const rtscts = (new DataView(t.buffer).getUint32(8, true) & CRTSCTS) !== 0;
  const stream = new TtyStream(fd, path);
  return {
    path,
    baud: actual,
    rtscts,
    readable: stream.readable,
    write: (data) => stream.write(data),
    close: () => stream.close(),
  };
}
