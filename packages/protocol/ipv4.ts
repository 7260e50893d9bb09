/**
 * IPv4 addresses read as the firmware reads them: lwIP's `ip4addr_aton`
 * (`inet_aton`), which `at_sktclient` tries on `<dst_host>` before any name
 * lookup and `at_sktsend`/`at_sktsendraw` use on a UDP server's
 * `<dst_ip>`. It takes C's number forms, so `127.0.0.010` is octal
 * (127.0.0.8), `0x7f.1` is 127.0.0.1, and `a`, `a.b`, `a.b.c` are short
 * forms; whatever the text, the module, the allowlist, the socket and
 * `AT+SKTSTATE` all see the one canonical dotted-decimal form.
 *
 * @module
 */

const isDigit = (c: string) => c >= "0" && c <= "9";
const isHex = (c: string) =>
  isDigit(c) || (c >= "a" && c <= "f") || (c >= "A" && c <= "F");
/** lwip_isspace: the bytes that may end an address (anything may follow them). */
const isSpace = (c: string) =>
  c === " " || c === "\f" || c === "\n" || c === "\r" || c === "\t" ||
  c === "\v";

// firmware rule ipv4-inet-aton
/**
 * `ip4addr_aton` of lwIP 2.1.2 (ameba-rtos `component/lwip/lwip_v2.1.2/
 * src/core/ipv4/ip4_addr.c`), byte for byte: returns the address as
 * dotted decimal, or undefined where it returns 0. Kept quirks: a leading
 * `0` makes a part octal but the digits 8 and 9 are still taken (`09` is
 * 9), a part wraps at 32 bits, and a space ends the address (what follows
 * it is ignored). The text ends at its first NUL, as a C string does.
 */
export function inetAton(text: string): string | undefined {
  const nul = text.indexOf("\0");
  const cp = nul >= 0 ? text.slice(0, nul) : text;
  let i = 0;
  const at = () => (i < cp.length ? cp[i] : "\0");
  const parts: number[] = [];
  let val = 0;
  let c = at();
  while (true) {
    if (!isDigit(c)) return undefined;
    val = 0;
    let base = 10;
    if (c === "0") {
      i++;
      c = at();
      if (c === "x" || c === "X") {
        base = 16;
        i++;
        c = at();
      } else base = 8;
    }
    while (true) {
      if (isDigit(c)) {
        val = (val * base + (c.charCodeAt(0) - 48)) >>> 0;
      } else if (base === 16 && isHex(c)) {
        val = (val * 16 + parseInt(c, 16)) >>> 0;
      } else break;
      i++;
      c = at();
    }
    if (c !== ".") break;
    if (parts.length >= 3) return undefined;
    parts.push(val);
    i++;
    c = at();
  }
  if (c !== "\0" && !isSpace(c)) return undefined;
  switch (parts.length + 1) {
    case 1:
      break;
    case 2:
      if (val > 0xffffff || parts[0] > 0xff) return undefined;
      val = (val | (parts[0] << 24)) >>> 0;
      break;
    case 3:
      if (val > 0xffff || parts[0] > 0xff || parts[1] > 0xff) return undefined;
      val = (val | (parts[0] << 24) | (parts[1] << 16)) >>> 0;
      break;
    case 4:
      if (
        val > 0xff || parts[0] > 0xff || parts[1] > 0xff || parts[2] > 0xff
      ) return undefined;
      val = (val | (parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8)) >>>
        0;
      break;
  }
  return [val >>> 24, (val >>> 16) & 0xff, (val >>> 8) & 0xff, val & 0xff]
    .join(".");
}

/** Whether `text` is an IPv4 address in its canonical form (four decimal parts, no leading zeros). */
export function isCanonicalIPv4(text: string): boolean {
  return /^(0|[1-9][0-9]{0,2})(\.(0|[1-9][0-9]{0,2})){3}$/.test(text) &&
    inetAton(text) === text;
}
