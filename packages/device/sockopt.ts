/**
 * Socket options on the host-OS sockets behind Deno TCP connections and
 * listeners and `node:dgram` UDP sockets. Deno does not expose file
 * descriptors, so the descriptor is found through /proc (the socket's
 * addresses in /proc/net/{tcp,udp}[6] give its inode; /proc/self/fd/N links
 * to `socket:[inode]`), then libc `setsockopt`/`getsockopt` are called
 * through FFI. Linux only; needs `--allow-read=/proc` and `--allow-ffi`.
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
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
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
  __errno_location: { parameters: [], result: "pointer" },
} as const;

let libc: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;
function lib() {
  libc ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return libc;
}

function errno(): number {
  const p = lib().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** Whether options can be applied here (Linux, FFI and /proc allowed). Never throws. */
export function socketOptionsSupported(): boolean {
  try {
    if (Deno.build.os !== "linux") return false;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
      return false;
    }
    if (
      Deno.permissions.querySync({ name: "read", path: "/proc" }).state !==
        "granted"
    ) return false;
    lib();
    return true;
  } catch {
    return false;
  }
}

/** /proc/net hex address ("0100007F:1F90") to [ip, port]. */
function parseProcAddress(text: string): [string, number] {
  const [hex, portHex] = text.split(":");
  const port = parseInt(portHex, 16);
  if (hex.length === 8) {
    const n = parseInt(hex, 16);
    return [
      [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join("."),
      port,
    ];
  }
  // IPv6: four 32-bit words, each little-endian.
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = parseInt(hex.slice(w * 8, w * 8 + 8), 16);
    bytes.push(
      word & 255,
      (word >>> 8) & 255,
      (word >>> 16) & 255,
      word >>> 24,
    );
  }
  if (
    bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 &&
    bytes[11] === 255
  ) {
    return [bytes.slice(12).join("."), port]; // IPv4-mapped
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) {
    groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  }
  return [normalizeV6(groups.join(":")), port];
}

function normalizeV6(ip: string): string {
  // Compare IPv6 addresses in full form.
  if (!ip.includes(":")) return ip;
  const [head, tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined ? (tail ? tail.split(":") : []) : [];
  const fill = tail !== undefined
    ? new Array(8 - h.length - t.length).fill("0")
    : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16)).join(
    ":",
  );
}

function sameHost(a: string, b: string): boolean {
  const strip = (ip: string) => ip.replace(/^::ffff:/, "");
  return normalizeV6(strip(a)) === normalizeV6(strip(b));
}

/** The fd of this process's socket with that key, or undefined. */
export function findSocketFd(key: SocketKey): number | undefined {
  const inodes = new Set<string>();
  for (const family of ["", "6"]) {
    let table: string;
    try {
      table = Deno.readTextFileSync(`/proc/net/${key.transport}${family}`);
    } catch {
      continue;
    }
    for (const line of table.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const [localIp, localPort] = parseProcAddress(cols[1]);
      const [remoteIp, remotePort] = parseProcAddress(cols[2]);
      if (localPort !== key.local.port) continue;
      const wildcard = localIp === "0.0.0.0" || localIp === "0:0:0:0:0:0:0:0";
      if (
        !sameHost(localIp, key.local.hostname) &&
        !(wildcard && ["0.0.0.0", "::"].includes(key.local.hostname))
      ) continue;
      if (key.remote) {
        if (
          remotePort !== key.remote.port ||
          !sameHost(remoteIp, key.remote.hostname)
        ) continue;
      } else if (key.transport === "tcp" && cols[3] !== "0A") continue; // LISTEN
      inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const entry of Deno.readDirSync("/proc/self/fd")) {
    try {
      const target = Deno.readLinkSync(`/proc/self/fd/${entry.name}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1])) return Number(entry.name);
    } catch { /* closed meanwhile */ }
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
