import assert from "node:assert/strict";
import { FIRMWARE_RULES } from "./firmware_rules.ts";

const root = new URL("../", import.meta.url);

Deno.test("firmware rules: ids are unique and every row is filled in", () => {
  const ids = new Set<string>();
  for (const rule of FIRMWARE_RULES) {
    assert.ok(/^[a-z0-9-]+$/.test(rule.id), `bad id ${rule.id}`);
    assert.ok(!ids.has(rule.id), `duplicate id ${rule.id}`);
    ids.add(rule.id);
    assert.ok(rule.rule.length > 10, `${rule.id}: rule`);
    assert.match(rule.source, /\.c\b|shell_cmd_chk|log_service/, rule.id);
  }
});

Deno.test("firmware rules: the code each row names cites the rule id", async () => {
  for (const rule of FIRMWARE_RULES) {
    const file = rule.code.split(" ")[0];
    const text = await Deno.readTextFile(new URL(file, root));
    assert.ok(
      text.includes(`firmware rule ${rule.id}`),
      `${file} does not cite "firmware rule ${rule.id}"`,
    );
  }
});
