/**
 * Checks on a value against a field of the command catalogue: its range as
 * text, why a value is outside it, which connection types read or need the
 * field, and the one rule for host names a host sends.
 *
 * @module
 */

import { field, type FieldSpec, INT_MAX } from "./commands.ts";

/** A field's range as text: `0..19`, `1 or more`, `1..255 characters`. */
export function rangeText(spec: FieldSpec): string {
  if (spec.kind === "ip") return "an IPv4 address";
  const range = spec.max === INT_MAX
    ? `${spec.min} or more`
    : `${spec.min}..${spec.max}`;
  return spec.kind === "text" ? `${range} characters` : range;
}

/**
 * Why a number is not a value of the field, or `undefined` when it is
 * (for `text`, the number is the length in characters).
 *
 * @example
 * ```ts
 * import { field, rangeProblem } from "@atsock/protocol";
 * rangeProblem(field("SKTDEL", "link_id"), 20); // "link_id 20 is outside 0..19"
 * ```
 */
export function rangeProblem(
  spec: FieldSpec,
  value: number,
): string | undefined {
  if (spec.kind === "text") {
    if (value < spec.min) return `${spec.name} is empty`;
    if (value > spec.max) {
      return `${spec.name} has ${value} characters, more than ${spec.max}`;
    }
    return undefined;
  }
  if (value >= spec.min && value <= spec.max) return undefined;
  return `${spec.name} ${value} is outside ${spec.min}..${spec.max}`;
}

/** Whether connection type `type` reads the field (every type when it names none). */
export function fieldUsedBy(spec: FieldSpec, type: number): boolean {
  return spec.usedBy === undefined || spec.usedBy.includes(type);
}

/** Whether the field must be given for connection type `type`. */
export function fieldRequiredFor(spec: FieldSpec, type: number): boolean {
  return spec.requiredFor?.includes(type) ?? spec.required;
}

/** Host names a host can send: printable ASCII without `,` or `\`. */
const SENDABLE_HOST = /^[\x20-\x2b\x2d-\x5b\x5d-\x7e]+$/;

/**
 * Why `host` cannot be sent as `AT+SKTCLIENT`'s `dst_host`, or `undefined`
 * when it can. The module reads any bytes there (and answers `ERROR: 1`
 * beyond 255 characters), but a line a host builds must give the name back
 * unchanged: 1..255 printable ASCII characters, no `,` (it would split the
 * field), no `\` (an escape elsewhere in the grammar), no control byte.
 * A space is sent (a test may want the module's answer to a bad name).
 * `formatRequest`, the host library and the CLI all check names with this
 * one rule.
 *
 * @example
 * ```ts
 * import { hostProblem } from "@atsock/protocol";
 * hostProblem("example.com"); // undefined
 * hostProblem("a,b"); // "dst_host must be 1..255 printable ASCII characters without \",\" or \"\\\""
 * ```
 */
export function hostProblem(host: string): string | undefined {
  const spec = field("SKTCLIENT", "dst_host");
  if (
    typeof host !== "string" || rangeProblem(spec, host.length) !== undefined ||
    !SENDABLE_HOST.test(host)
  ) {
    return `${spec.name} must be ${spec.min}..${spec.max} printable ASCII characters without "," or "\\"`;
  }
  return undefined;
}
