import { findSocketFd } from "../packages/device/sockopt.ts";
const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (l.addr as Deno.NetAddr).port;
console.log(
  Deno.readTextFileSync("/proc/net/tcp").split("\n").filter((x) =>
    x.includes(port.toString(16).toUpperCase())
  ),
);
try {
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    try {
      console.log(e.name, Deno.readLinkSync(`/proc/self/fd/${e.name}`));
    } catch (err) {
      console.log(e.name, "ERR", (err as Error).message);
    }
  }
} catch (e) {
  console.log("readdir", e);
}
console.log(
  findSocketFd({ transport: "tcp", local: { hostname: "127.0.0.1", port } }),
);
l.close();
