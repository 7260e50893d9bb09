/**
 * Socket options on the host-OS sockets behind Deno TCP connections and
 * listeners and `node:dgram` UDP sockets. Deno does not expose file
 * descriptors, so the descriptor is found by asking each open one for its
 * type and addresses, then libc `setsockopt`/`getsockopt` are called
 * through FFI. Linux only; needs `--allow-ffi`.
 *
 * @module
 */

/** tcp or udp. */
export type Transport = "tcp" | "udp";

/** A socket of this process, by its addresses. */
export interface SocketKey {
  /** tcp or udp. */
  transport: Transport;
  /** Local address and port. */
  local: { hostname: string; port: number };
  /** Remote address and port (connected TCP); absent for listeners and UDP. */
  remote?: { hostname: string; port: number };
}

/** The seven options `AT+SKTCFG` sets. */
export interface SocketOptions {
  /** SO_SNDTIMEO in ms. */
  sendTimeoutMs?: number;
  /** SO_RCVTIMEO in ms. */
  receiveTimeoutMs?: number;
  /** TCP_NODELAY. */
  noDelay?: boolean;
  /** SO_KEEPALIVE. */
  keepAlive?: boolean;
  /** TCP_KEEPIDLE in s (0: leave the OS default). */
  keepIdle?: number;
  /** TCP_KEEPINTVL in s (0: leave the OS default). */
  keepInterval?: number;
  /** TCP_KEEPCNT (0: leave the OS default). */
  keepCount?: number;
}

const SOL_SOCKET = 1;
const SO_KEEPALIVE = 9;
const SO_RCVTIMEO = 20;
const SO_SNDTIMEO = 21;
const SO_RCVBUF = 8;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const TCP_MAXSEG = 2;
const TCP_KEEPIDLE = 4;
const TCP_KEEPINTVL = 5;
const TCP_KEEPCNT = 6;

const SYMBOLS = {
  setsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "u32"],
    result: "i32",
  },
  getsockopt: {
    parameters: ["i32", "i32", "i32", "buffer", "buffer"],
    result: "i32",
  },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  // For attacks.ts (resets made with SO_LINGER {1, 0}).
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
/** The libc functions bound through FFI (Linux), opened once. Internal. */
export function lib(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  libc ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return libc;
}

function errno(): number {
  const p = lib().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** Whether options can be applied here (Linux with FFI allowed). Never throws. */
export function socketOptionsSupported(): boolean {
  try {
    if (Deno.build.os !== "linux") return false;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return false;
    }
    lib();
    return true;
  } catch {
    return false;
  }
}

const AF_INET = 2;
const AF_INET6 = 10;
const SO_TYPE = 3;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** A sockaddr (IPv4 or IPv6) to [ip, port]; undefined for other families. */
function readSockaddr(buf: Uint8Array): [string, number] | undefined {
  const view = new DataView(buf.buffer);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2, false);
  if (family === AF_INET) return [[...buf.subarray(4, 8)].join("."), port];
  if (family !== AF_INET6) return undefined;
  const bytes = buf.subarray(8, 24);
  if (
    bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 255 &&
    bytes[11] === 255
  ) {
    return [[...bytes.subarray(12)].join("."), port]; // IPv4-mapped
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  }
  return [groups.join(":"), port];
}

function normalize(ip: string): string {
  const plain = ip.replace(/^::ffff:/, "");
  if (!plain.includes(":")) return plain;
  const [head, tail] = plain.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  const fill = tail !== undefined
    ? new Array(8 - h.length - t.length).fill("0")
    : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16)).join(
    ":",
  );
}

function address(fd: number, peer: boolean): [string, number] | undefined {
  const buf = new Uint8Array(128);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 128, true);
  const call = peer ? lib().getpeername : lib().getsockname;
  if (call(fd, buf, len) !== 0) return undefined;
  return readSockaddr(buf);
}

/**
 * The fd of this process's socket with that key, or undefined. It asks
 * each open descriptor for its type and addresses (`getsockopt(SO_TYPE)`,
 * `getsockname`, `getpeername`), so it needs only `--allow-ffi` (Deno
 * wants `--allow-all` for /proc/net).
 */
export function findSocketFd(key: SocketKey): number | undefined {
  const want = key.transport === "tcp" ? SOCK_STREAM : SOCK_DGRAM;
  const local = normalize(key.local.hostname);
  const remote = key.remote ? normalize(key.remote.hostname) : undefined;
  let misses = 0;
  for (let fd = 0; fd < 65536 && misses < 1024; fd++) {
    let type: number;
    try {
      type = getInt(fd, SOL_SOCKET, SO_TYPE);
    } catch {
      misses++; // not a socket, or not open
      continue;
    }
    misses = 0;
    if (type !== want) continue;
    const mine = address(fd, false);
    if (!mine || mine[1] !== key.local.port) continue;
    const wildcard = mine[0] === "0.0.0.0" || mine[0] === "0:0:0:0:0:0:0:0";
    if (
      normalize(mine[0]) !== local &&
      !(wildcard && (local === "0.0.0.0" || local === "0:0:0:0:0:0:0:0"))
    ) continue;
    const peer = address(fd, true);
    if (key.remote) {
      if (
        !peer || peer[1] !== key.remote.port || normalize(peer[0]) !== remote
      ) continue;
    } else if (peer) continue; // a listener or unconnected UDP socket has no peer
    return fd;
  }
  return undefined;
}

function setInt(
  fd: number,
  level: number,
  name: number,
  value: number,
  label: string,
): void {
  const buf = new Uint8Array(4);
  new DataView(buf.buffer).setInt32(0, value, true);
  if (lib().setsockopt(fd, level, name, buf, 4) !== 0) {
    throw new Error(`setsockopt ${label}=${value} failed (errno ${errno()})`);
  }
}

function setTimeval(fd: number, name: number, ms: number, label: string): void {
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  view.setBigInt64(0, BigInt(Math.floor(ms / 1000)), true);
  view.setBigInt64(8, BigInt((ms % 1000) * 1000), true);
  if (lib().setsockopt(fd, SOL_SOCKET, name, buf, 16) !== 0) {
    throw new Error(`setsockopt ${label}=${ms}ms failed (errno ${errno()})`);
  }
}

/** Applies the options present. Throws an Error naming the option and errno. */
export function setSocketOptions(fd: number, options: SocketOptions): void {
  if (options.sendTimeoutMs !== undefined) {
    setTimeval(fd, SO_SNDTIMEO, options.sendTimeoutMs, "SO_SNDTIMEO");
  }
  if (options.receiveTimeoutMs !== undefined) {
    setTimeval(fd, SO_RCVTIMEO, options.receiveTimeoutMs, "SO_RCVTIMEO");
  }
  if (options.noDelay !== undefined) {
    setInt(
      fd,
      IPPROTO_TCP,
      TCP_NODELAY,
      options.noDelay ? 1 : 0,
      "TCP_NODELAY",
    );
  }
  if (options.keepAlive !== undefined) {
    setInt(
      fd,
      SOL_SOCKET,
      SO_KEEPALIVE,
      options.keepAlive ? 1 : 0,
      "SO_KEEPALIVE",
    );
  }
  if (options.keepIdle) {
    setInt(fd, IPPROTO_TCP, TCP_KEEPIDLE, options.keepIdle, "TCP_KEEPIDLE");
  }
  if (options.keepInterval) {
    setInt(
      fd,
      IPPROTO_TCP,
      TCP_KEEPINTVL,
      options.keepInterval,
      "TCP_KEEPINTVL",
    );
  }
  if (options.keepCount) {
    setInt(fd, IPPROTO_TCP, TCP_KEEPCNT, options.keepCount, "TCP_KEEPCNT");
  }
}

/**
 * The receive window of a socket, as a small stack like lwIP has it: the
 * kernel receive buffer (`SO_RCVBUF`; Linux doubles the value asked and
 * raises it to its minimum) and, for listeners, the largest segment
 * advertised to peers (`TCP_MAXSEG`, which also keeps the peer's own send
 * buffer small). Set both on a listener before it accepts: a window already
 * advertised cannot be taken back, so shrinking a connected socket only
 * slows it down.
 */
export interface WindowOptions {
  /** SO_RCVBUF in bytes asked for. */
  receiveBuffer: number;
  /** TCP_MAXSEG in bytes (listeners; omitted: leave the OS default). */
  maxSegment?: number;
}

/** Applies {@linkcode WindowOptions}. Throws an Error naming the option and errno. */
export function setWindow(fd: number, options: WindowOptions): void {
  setInt(fd, SOL_SOCKET, SO_RCVBUF, options.receiveBuffer, "SO_RCVBUF");
  if (options.maxSegment !== undefined) {
    setInt(fd, IPPROTO_TCP, TCP_MAXSEG, options.maxSegment, "TCP_MAXSEG");
  }
}

/** The kernel receive buffer size (`SO_RCVBUF`, as the kernel reports it). */
export function getReceiveBuffer(fd: number): number {
  return getInt(fd, SOL_SOCKET, SO_RCVBUF);
}

function getInt(fd: number, level: number, name: number): number {
  const buf = new Uint8Array(4);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 4, true);
  if (lib().getsockopt(fd, level, name, buf, len) !== 0) {
    throw new Error(`getsockopt failed (errno ${errno()})`);
  }
  return new DataView(buf.buffer).getInt32(0, true);
}

function getTimeval(fd: number, name: number): number {
  const buf = new Uint8Array(16);
  const len = new Uint8Array(4);
  new DataView(len.buffer).setUint32(0, 16, true);
  if (lib().getsockopt(fd, SOL_SOCKET, name, buf, len) !== 0) {
    throw new Error(`getsockopt failed (errno ${errno()})`);
  }
  const view = new DataView(buf.buffer);
  return Number(view.getBigInt64(0, true)) * 1000 +
    Math.round(Number(view.getBigInt64(8, true)) / 1000);
}

/** Reads the options back (TCP ones are 0/false on UDP sockets). */
export function getSocketOptions(
  fd: number,
  transport: Transport,
): Required<SocketOptions> {
  const tcp = transport === "tcp";
  return {
    sendTimeoutMs: getTimeval(fd, SO_SNDTIMEO),
    receiveTimeoutMs: getTimeval(fd, SO_RCVTIMEO),
    noDelay: tcp ? getInt(fd, IPPROTO_TCP, TCP_NODELAY) !== 0 : false,
    keepAlive: getInt(fd, SOL_SOCKET, SO_KEEPALIVE) !== 0,
    keepIdle: tcp ? getInt(fd, IPPROTO_TCP, TCP_KEEPIDLE) : 0,
    keepInterval: tcp ? getInt(fd, IPPROTO_TCP, TCP_KEEPINTVL) : 0,
    keepCount: tcp ? getInt(fd, IPPROTO_TCP, TCP_KEEPCNT) : 0,
  };
}
