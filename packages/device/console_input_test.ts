import assert from "node:assert/strict";
import { type CommandName, decodeLatin1, encode } from "@atsock/protocol";
import { ConsoleInput, type InputHandler } from "./console_input.ts";
import { ConsoleOutput } from "./output.ts";

/** A console input on a recording handler, its output collected as text. */
function rig(mode: "manual" | "host", handler: Partial<InputHandler> = {}) {
  const output = new ConsoleOutput();
  let printed = "";
  output.attach((bytes) => {
    printed += decodeLatin1(bytes);
    return Promise.resolve();
  });
  const commands: string[] = [];
  const logs: string[] = [];
  const input = new ConsoleInput({
    mode,
    lineBuffer: 64,
    output,
    log: (m) => logs.push(m),
    track: (work) => work,
    handler: {
      command: (name: CommandName, line: Uint8Array) => {
        commands.push(`${name} ${decodeLatin1(line)}`);
        return Promise.resolve();
      },
      raw: () => Promise.resolve(),
      hangUp: () => Promise.resolve(),
      ...handler,
    },
  });
  const settle = async () => {
    await input.idle();
    await output.flushed();
  };
  return { input, output, commands, logs, printed: () => printed, settle };
}

Deno.test("console input: whole lines become commands in order, a partial line waits for its end", async () => {
  const r = rig("host");
  await r.input.push(encode("AT+SKTSTATE\r\nAT+SKTQ"));
  await r.settle();
  assert.deepEqual(r.commands, ["SKTSTATE AT+SKTSTATE"]);
  assert.equal(r.input.buffered, 7);
  await r.input.push(encode("UERY\r\n"));
  await r.settle();
  assert.deepEqual(r.commands, [
    "SKTSTATE AT+SKTSTATE",
    "SKTQUERY AT+SKTQUERY",
  ]);
  assert.equal(r.input.buffered, 0);
  r.input.close();
});

Deno.test("console input: Host Control Mode answers nothing to an unknown line; Manual Test Mode echoes and answers it", async () => {
  const host = rig("host");
  await host.input.push(encode("hello\r\n"));
  await host.settle();
  assert.deepEqual(host.commands, []);
  assert.equal(host.printed(), "");
  host.input.close();

  const manual = rig("manual");
  await manual.input.push(encode("hello\r\nAT+SKTSTATE\r\n"));
  await manual.settle();
  assert.deepEqual(manual.commands, ["SKTSTATE AT+SKTSTATE"]);
  // The shell echoes every byte, and says something about "hello".
  assert.ok(manual.printed().startsWith("hello"), manual.printed());
  assert.ok(manual.printed().length > "hello\r\nAT+SKTSTATE\r\n".length);
  manual.input.close();
});

Deno.test("console input: a line that fills the line buffer runs and is logged", async () => {
  const r = rig("host");
  await r.input.push(encode(`AT+SKTSEND=0,3,,,${"x".repeat(80)}\r\n`));
  await r.settle();
  assert.equal(r.commands.length, 1);
  assert.ok(r.logs.some((m) => m.includes("line buffer filled up")), r.logs[0]);
  r.input.close();
});

Deno.test("console input: a console that hangs up in raw mode is hung up on once; the next console's lines are commands again", async () => {
  let hangUps = 0;
  const raw: string[] = [];
  let startRaw = true;
  const r = rig("host", {
    command: (name) => {
      if (name === "SKTSENDRAW" && startRaw) {
        startRaw = false;
        r.input.current.startRaw();
      }
      return Promise.resolve();
    },
    raw: (data) => {
      raw.push(decodeLatin1(data));
      return Promise.resolve();
    },
    hangUp: () => {
      hangUps++;
      return Promise.resolve();
    },
  });
  await r.input.push(encode("AT+SKTSENDRAW=0,10\r\nabc"));
  await r.settle();
  assert.deepEqual(raw, ["abc"]);
  r.input.detach();
  await r.input.push(encode("AT+SKTSTATE\r\n"));
  await r.settle();
  assert.equal(hangUps, 1);
  assert.equal(r.input.current.raw, false);
  assert.equal(r.input.buffered, 0);
  r.input.close();
});

Deno.test("console input: past 64 KiB held, a push resolves only once the input has been taken", async () => {
  let release: (() => void) | undefined;
  const r = rig("host", {
    command: () => new Promise<void>((resolve) => release = resolve),
  });
  await r.input.push(encode("AT+SKTSTATE\r\n"));
  let resolved = false;
  const big = r.input.push(new Uint8Array(70 * 1024).fill(0x61)).then(() => {
    resolved = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(resolved, false, "held back while the command runs");
  r.input.reset(); // A reset drops the input and lets the console go on.
  await big;
  assert.equal(resolved, true);
  assert.equal(r.input.buffered, 0);
  release?.();
  r.input.close();
});
