import assert from "node:assert/strict";
import { ArgsError, helpText, parseDuration, parseToolArgs } from "./args.ts";

const spec = {
  name: "demo",
  summary: "a demo tool",
  usage: "deno run demo.ts [--lines N] [--kinds LIST] TARGET",
  options: {
    lines: {
      kind: "integer",
      help: "lines to write",
      default: 100,
      min: 1,
      max: 1000,
    },
    seed: { kind: "integer", help: "the seed", min: 0, max: 2 ** 32 - 1 },
    "time-limit": {
      kind: "duration",
      help: "give up after",
      unit: "s",
      default: 1_800_000,
      min: 1000,
      max: 86_400_000,
    },
    kinds: {
      kind: "choice",
      help: "kinds to run",
      choices: ["tcp", "udp", "tls"],
      list: true,
      default: ["tcp", "udp", "tls"],
    },
    mode: {
      kind: "choice",
      help: "console mode",
      choices: ["manual", "host"],
      default: "host",
    },
    only: {
      kind: "string",
      help: "one transcript",
      multiple: true,
      value: "NAME",
    },
    certs: { kind: "string", help: "certificates", value: "DIR" },
    json: { kind: "boolean", help: "print JSON" },
  },
  positionals: { min: 1, max: 1 },
  epilogue: "Exit status: 0 good, 2 bad usage.",
} as const;

const read = (args: string[]) => {
  const parsed = parseToolArgs(spec, args);
  assert.notEqual(parsed, "help");
  return parsed as Exclude<typeof parsed, "help">;
};

Deno.test("args: defaults, conversions and types", () => {
  const { values, positionals } = read(["virtual"]);
  assert.deepEqual(positionals, ["virtual"]);
  assert.equal(values.lines, 100);
  assert.equal(values.seed, undefined);
  assert.equal(values["time-limit"], 1_800_000);
  assert.deepEqual(values.kinds, ["tcp", "udp", "tls"]);
  assert.equal(values.mode, "host");
  assert.deepEqual(values.only, []);
  assert.equal(values.certs, undefined);
  assert.equal(values.json, false);
  const given = read([
    "x",
    "--lines",
    "1000",
    "--seed=0",
    "--time-limit",
    "90",
    "--kinds",
    "udp,tls",
    "--mode",
    "manual",
    "--only",
    "a",
    "--only",
    "b",
    "--certs",
    "pki",
    "--json",
  ]).values;
  assert.deepEqual(given, {
    lines: 1000,
    seed: 0,
    "time-limit": 90_000,
    kinds: ["udp", "tls"],
    mode: "manual",
    only: ["a", "b"],
    certs: "pki",
    json: true,
  });
  assert.equal(read(["x", "--time-limit", "5m"]).values["time-limit"], 300_000);
  assert.equal(parseToolArgs(spec, ["--help"]), "help");
  assert.equal(parseToolArgs(spec, ["-h", "--lines", "0"]), "help");
});

Deno.test("args: every bad command line is an ArgsError naming the flag", () => {
  const bad: [string[], RegExp][] = [
    [["x", "--line", "5"], /^unknown option --line; the options are .*--lines/],
    [["x", "-q"], /^unknown option -q/],
    [["x", "--lines"], /^--lines needs a value$/],
    [["x", "--json=yes"], /^--json takes no value$/],
    [
      ["x", "--lines", "0"],
      /^--lines takes a whole number 1\.\.1000, not "0"$/,
    ],
    [["x", "--lines", "1001"], /1\.\.1000/],
    [["x", "--lines", "2.5"], /not "2\.5"/],
    [["x", "--lines", "ten"], /not "ten"/],
    [["x", "--lines", ""], /not ""/],
    [["x", "--seed=-1"], /--seed takes a whole number/],
    [["x", "--seed", "-1"], /^--seed needs a value \(a value that starts/],
    [
      ["x", "--time-limit", "0"],
      /^--time-limit takes a duration 1 s\.\.86400 s/,
    ],
    [["x", "--time-limit", "2d"], /not "2d"/],
    [["x", "--time-limit", "25h"], /not "25h"/],
    [["x", "--kinds", "tcp,sctp"], /^--kinds takes a list of tcp, udp, tls/],
    [["x", "--mode", "auto"], /^--mode takes manual, host, not "auto"$/],
    [[], /^expected 1 argument$/],
    [["x", "y"], /^unexpected argument "y"$/],
  ];
  for (const [args, message] of bad) {
    assert.throws(() => parseToolArgs(spec, args), (e: unknown) => {
      assert.ok(e instanceof ArgsError, `${args}: ${e}`);
      assert.match(e.message, message, args.join(" "));
      return true;
    });
  }
});

Deno.test("args: positional choices", () => {
  const measures = {
    name: "m",
    summary: "s",
    usage: "m [MEASURE]",
    options: {},
    positionals: { min: 0, max: 1, choices: ["a", "all"] },
  } as const;
  assert.deepEqual(parseToolArgs(measures, []), {
    values: {},
    positionals: [],
  });
  assert.throws(
    () => parseToolArgs(measures, ["b"]),
    /unknown argument "b"; one of a, all/,
  );
  assert.throws(() => parseToolArgs(measures, ["--x"]), ArgsError);
});

Deno.test("args: durations", () => {
  assert.equal(parseDuration("1800", "s"), 1_800_000);
  assert.equal(parseDuration("0.5", "s"), 500);
  assert.equal(parseDuration("250", "ms"), 250);
  assert.equal(parseDuration("250ms", "s"), 250);
  assert.equal(parseDuration("2h", "ms"), 7_200_000);
  for (const text of ["", "-1", "1e3", "s", "1 2", "0x10"]) {
    assert.throws(() => parseDuration(text, "s"), ArgsError, text);
  }
});

Deno.test("args: the help lists every option with its bounds and default", () => {
  const help = helpText(spec);
  assert.match(help, /^demo: a demo tool\n\nUsage:\n {2}deno run demo\.ts/);
  assert.match(help, /--lines N +lines to write \(1\.\.1000; default 100\)\n/);
  assert.match(help, /--seed N +the seed \(0\.\.4294967295\)\n/);
  assert.match(
    help,
    /--time-limit SECONDS +give up after \(1 s\.\.86400 s; default 1800 s\)\n/,
  );
  assert.match(
    help,
    /--kinds VALUE +kinds to run \(tcp, udp, tls; default tcp,udp,tls\)\n/,
  );
  assert.match(help, /--only NAME +one transcript\n/);
  assert.match(help, /--json +print JSON\n/);
  assert.match(help, /-h, --help +this help\n\nExit status: 0 good/);
  for (const name of Object.keys(spec.options)) {
    assert.match(help, new RegExp(`--${name}\\b`));
  }
});
