import { createModule, serveTcp } from "@atsock/device";
import { AtDriver, connectTcp } from "@atsock/host";
const module = createModule({ mode: "host" });
const con = serveTcp(module, { port: 0 });
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const SIZE = 32 * 1024 * 1024;
const draining = (async () => { const c = await listener.accept(); const b = new Uint8Array(262144); let t = 0; while (t < SIZE) { const n = await c.read(b); if (n === null) break; t += n; } c.close(); })();
const driver = new AtDriver(await connectTcp({ port: con.port }));
await driver.waitReady();
let marks = 0;
driver.addEventListener("watermark", () => marks++);
await driver.connect({ linkId: 0, host: "127.0.0.1", port: (listener.addr as Deno.NetAddr).port, autoReceive: false });
const data = new Uint8Array(SIZE);
const t = performance.now();
for (let i = 0; i < SIZE; i += 4 * 1024 * 1024) {
  const t1 = performance.now();
  await driver.sendRaw(0, data.subarray(i, i + 4 * 1024 * 1024));
  console.log("chunk", (performance.now() - t1).toFixed(1), "ms");
}
await draining;
console.log("MB/s", (SIZE / ((performance.now() - t) / 1000) / 1e6).toFixed(0), "watermarks", marks);
Deno.exit(0);
