/**
 * A virtual Realtek Ameba module for the Socket AT commands: it reads
 * command lines from a console (standard I/O, a TCP port or a serial pty)
 * and acts on real TCP and UDP sockets exactly as the firmware does, so host
 * firmware can be developed and tested without hardware.
 *
 * Many modules can run in one process, each with its own link table,
 * options and console.
 *
 * @example Run a module on a TCP console on loopback
 * ```ts ignore
 * import { createModule, serveTcp } from "@atsock/device";
 *
 * const module = createModule({ mode: "host" });
 * const console = serveTcp(module, { port: 3333 });
 * // nc 127.0.0.1 3333, then type AT+SKTQUERY
 * Deno.addSignalListener("SIGINT", async () => {
 *   await console.close();
 *   await module.close();
 * });
 * ```
 *
 * @module
 */

export { createModule, VirtualModule } from "./module.ts";
export type {
  ConsoleMode,
  ModuleOptions,
  ModuleStats,
} from "./module_options.ts";
export type { FlowControl } from "./raw_transfer.ts";
export {
  acceptLoop,
  type AcceptLoopOptions,
  type AcceptStats,
} from "./accept_loop.ts";
export {
  type Console,
  type ConsolePipe,
  serveStdio,
  serveStreams,
  serveTcp,
  type TcpConsoleOptions,
  writeAll,
} from "./consoles.ts";
export {
  type ConnectRule,
  ConnectRuleError,
  parseConnectRules,
} from "./net_guard.ts";
export {
  ConsoleOutput,
  type ConsoleOutputOptions,
  type ConsoleSink,
} from "./output.ts";
export {
  type NetDetail,
  openTranscriptFile,
  TranscriptRecorder,
  type TranscriptRecorderOptions,
} from "./transcript.ts";
export {
  checkFault,
  checkFaultPlan,
  type Fault,
  type FaultAction,
  type FaultPlan,
  FaultPlanError,
  type FaultTrigger,
  parseFaultPlan,
} from "./fault_plan.ts";
export {
  type CommandEffects,
  type FaultHost,
  FaultInjector,
  type FiredFault,
} from "./fault_layer.ts";
export { Prng, streamSeed } from "./prng.ts";
export type {
  Endpoint,
  LinkRole,
  LinkState,
  SocketConfig,
  StateProtocol,
} from "@atsock/protocol";
