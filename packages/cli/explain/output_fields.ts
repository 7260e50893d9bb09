/**
 * The pieces every explanation of an output line is made of: the
 * explanation itself and the link id, port and address fields, checked
 * against the command catalogue's ranges.
 *
 * @module
 */

import { field, isIPv4, rangeProblem, rangeText } from "@atsock/protocol";
import type {
  ExplainedField,
  Explanation,
  ExplanationKind,
} from "./explanation.ts";

/** A link id as the catalogue ranges it. */
const LINK_ID = field("SKTDEL", "link_id");
/** A port as the catalogue ranges it. */
const PORT = field("SKTSERVER", "src_port");

/** An explanation of an output line (valid unless a field has a problem). */
export function result(
  line: string,
  kind: ExplanationKind,
  summary: string,
  fields: ExplainedField[] = [],
  extra: Partial<Explanation> = {},
): Explanation {
  const valid = kind !== "unrecognised" && fields.every((f) => !f.problem);
  return {
    line,
    kind,
    command: null,
    summary,
    fields,
    error: null,
    answer: null,
    notes: [],
    valid,
    ...extra,
  };
}

/** A link id field. */
export function linkField(
  name: string,
  value: string,
  meaning: string,
): ExplainedField {
  const n = Number(value);
  const field: ExplainedField = { name, value: n, meaning };
  if (!/^\d+$/.test(value) || rangeProblem(LINK_ID, n)) {
    field.value = value;
    field.problem = `${name} ${value} is outside ${rangeText(LINK_ID)}`;
  }
  return field;
}

/** A port field (`min` 0 where the module prints 0 for none). */
export function portField(
  name: string,
  value: string,
  meaning: string,
  min = PORT.min,
): ExplainedField {
  const n = Number(value);
  const field: ExplainedField = { name, value: n, meaning };
  const range = { ...PORT, min };
  if (!/^\d+$/.test(value) || rangeProblem(range, n)) {
    field.value = value;
    field.problem = `${name} ${value} is outside ${rangeText(range)}`;
  }
  return field;
}

/** An IPv4 address field. */
export function ipField(
  name: string,
  value: string,
  meaning: string,
): ExplainedField {
  const field: ExplainedField = { name, value, meaning };
  if (!isIPv4(value)) {
    field.problem = `${name} "${value}" is not an IPv4 address`;
  }
  return field;
}
