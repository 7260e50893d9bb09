/**
 * A virtual module for the CLI's tests, through the public APIs only: its
 * console on an in-memory pair, the output parsed into events.
 *
 * @module
 */

import {
  createModule,
  type ModuleOptions,
  serveStreams,
  type VirtualModule,
} from "@atsock/device";
import { memoryPair, type Transport } from "@atsock/host";
import { type ModuleEvent, OutputParser } from "@atsock/protocol";

/** A virtual module with a client on its console. */
export class Harness {
  readonly module: VirtualModule;
  readonly #client: Transport;
  readonly #close: () => Promise<void>;
  readonly #parser = new OutputParser();
  #events: ModuleEvent[] = [];
  #waiters: (() => void)[] = [];
  readonly #reading: Promise<void>;

  private constructor(
    module: VirtualModule,
    client: Transport,
    close: () => Promise<void>,
  ) {
    this.module = module;
    this.#client = client;
    this.#close = close;
    this.#reading = this.#read();
  }

  /** Starts a module and attaches a client to its console. */
  static start(options: ModuleOptions = {}): Promise<Harness> {
    const module = createModule(options);
    const [client, device] = memoryPair();
    const console = serveStreams(module, device, "test");
    return Promise.resolve(
      new Harness(module, client, async () => {
        await console.close();
        await device.close();
      }),
    );
  }

  async #read(): Promise<void> {
    try {
      for await (const chunk of this.#client.readable) {
        this.#events.push(...this.#parser.push(chunk));
        for (const wake of this.#waiters.splice(0)) wake();
      }
    } catch { /* closed */ }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** Sends raw bytes on the console. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#client.write(bytes);
  }

  /** Waits until an event matches (consuming events up to it), or throws after `ms`. */
  async next(
    match: (e: ModuleEvent) => boolean = () => true,
    ms = 5000,
  ): Promise<{ event: ModuleEvent; before: ModuleEvent[] }> {
    const deadline = Date.now() + ms;
    while (true) {
      const i = this.#events.findIndex(match);
      if (i >= 0) {
        const before = this.#events.splice(0, i + 1);
        return { event: before.pop()!, before };
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `no matching event within ${ms} ms; have ${
            JSON.stringify(this.#events)
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Closes the client, the console and the module. */
  async close(): Promise<void> {
    await this.#client.close();
    await this.#reading;
    await this.#close();
    await this.module.close();
  }
}
