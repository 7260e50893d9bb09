import assert from "node:assert/strict";
import { createModule } from "./module.ts";
import { serveStreams } from "./consoles.ts";

/**
 * Console output the module may hold while its console does not read:
 * the output's high-water mark (64 KiB), the echo of the input it has
 * taken (at most twice its 64 KiB input high-water mark plus one read)
 * and one answer. docs/reliability.md states it as 1 MiB.
 */
const console_log = (m: string) => globalThis.console.log(m);
const OUTPUT_BOUND = 1024 * 1024;

for (const mode of ["manual", "host"] as const) {
  Deno.test(`console output stays bounded when the console never reads (${mode} mode: echo and answers)`, async () => {
    const module = createModule({ mode });
    const line = new TextEncoder().encode("AT+SKTQUERY\r\n".repeat(300));
    const total = 16 * 1024 * 1024;
    let given = 0;
    let most = 0;
    let lastPull = Date.now();
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        most = Math.max(most, module.output.buffered);
        lastPull = Date.now();
        if (given >= total) return controller.close();
        given += line.length;
        controller.enqueue(line.slice());
      },
    }, { highWaterMark: 0 });
    // A console that never reads: its writes never complete.
    const console = serveStreams(module, {
      readable,
      write: () => new Promise<void>(() => {}),
    });
    try {
      // Until every byte was taken (unbounded) or the module stopped
      // taking input for a second (it waits for the console).
      for (let i = 0; i < 6000 && given < total; i++) {
        if (Date.now() - lastPull > 1000) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      most = Math.max(most, module.output.buffered);
      assert.ok(
        most <= OUTPUT_BOUND,
        `console output held ${most} bytes (bound ${OUTPUT_BOUND}) after ${given} bytes of input`,
      );
      assert.ok(given < total);
      console_log(
        `  held at most ${most} bytes of output after ${given} bytes of input`,
      );
    } finally {
      await module.close();
      await console.close();
    }
  });
}
