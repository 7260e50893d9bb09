import assert from "node:assert/strict";
import { encode } from "@atsock/protocol";
import { createModule } from "./module.ts";
import { servePty } from "./pty_console.ts";
import { openSerial, type SerialPort } from "@atsock/tty";

/** Reads from a port until the text ends with `end` (at most 100 reads, 5 s). */
async function readUntil(port: SerialPort, end: string): Promise<string> {
  const reader = port.readable.getReader();
  let text = "";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`no ${JSON.stringify(end)} in ${JSON.stringify(text)}`),
        ),
      5000,
    );
  });
  try {
    for (let i = 0; i < 100 && !text.endsWith(end); i++) {
      const { value, done } = await Promise.race([reader.read(), deadline]);
      if (done) break;
      text += new TextDecoder().decode(value);
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  return text;
}

/** Opens the pty as a client would. */
async function open(path: string): Promise<SerialPort> {
  let last: unknown;
  for (let i = 0; i < 200; i++) {
    try {
      return openSerial(path, { baud: 115200 });
    } catch (e) {
      last = e; // The previous client's lock goes as it closes.
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  throw last;
}

Deno.test("pty console: output with nobody there is discarded, ATCMD READY greets each client, a client leaving mid-line leaves nothing", async () => {
  const module = createModule({ mode: "host" });
  const pty = servePty(module);
  try {
    // Answered with nobody on the pty: into the void.
    await module.receive(encode("AT+SKTQUERY\r\n"));
    await module.output.flushed();

    const first = await open(pty.address);
    await first.write(encode("AT+SKTSTATE\r\n"));
    assert.equal(await readUntil(first, "OK\r\n"), "ATCMD READY\r\n\r\nOK\r\n");
    await first.write(encode("AT+SKTQU"));
    await first.close();
    // The console is detached once the pty sees nobody there. (A client
    // reopening sooner would be the same session, as on a cable never
    // unplugged.)
    for (let i = 0; i < 400 && module.output.attached; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(module.output.attached, false);

    const second = await open(pty.address);
    assert.equal(await readUntil(second, "READY\r\n"), "ATCMD READY\r\n");
    // "ERY" is a line of its own (unknown, no answer), not the end of the
    // first client's AT+SKTQU.
    await second.write(encode("ERY\r\nAT+SKTDEL=3\r\n"));
    assert.equal(await readUntil(second, "ERROR: 1\r\n"), "\r\nERROR: 1\r\n");
    await second.close();
  } finally {
    await pty.close();
    await module.close();
  }
});
