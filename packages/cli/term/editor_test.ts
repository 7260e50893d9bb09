import assert from "node:assert/strict";
import fc from "fast-check";
import { type Key, KeyDecoder } from "./keys.ts";
import { type EditorEvent, LineEditor } from "./editor.ts";

const enc = new TextEncoder();

/** Types `input` (a string of raw terminal bytes) and returns the events. */
function type(editor: LineEditor, input: string): EditorEvent[] {
  return editor.feed(enc.encode(input)).events;
}

Deno.test("keys: text, controls and escape sequences", () => {
  const keys = new KeyDecoder().push(
    enc.encode("aé\x1b[D\x1bOH\x1b[3~\x1b[1;5C\x1bb\x01\x7f\r\n\t\x03\x1b[Z"),
  );
  assert.deepEqual(keys, [
    { type: "text", text: "aé" },
    { type: "key", key: "left" },
    { type: "key", key: "home" },
    { type: "key", key: "delete" },
    { type: "key", key: "word-right" },
    { type: "key", key: "word-left" },
    { type: "key", key: "home" },
    { type: "key", key: "backspace" },
    { type: "key", key: "enter" }, // CR LF is one Enter
    { type: "key", key: "tab" },
    { type: "key", key: "interrupt" },
    { type: "unknown", bytes: enc.encode("\x1b[Z") },
  ]);
});

Deno.test("keys: a lone Escape is held until flushed", () => {
  const decoder = new KeyDecoder();
  assert.deepEqual(decoder.push(enc.encode("x\x1b")), [
    { type: "text", text: "x" },
  ]);
  assert.equal(decoder.pending, 1);
  assert.deepEqual(decoder.flush(), [{
    type: "unknown",
    bytes: enc.encode("\x1b"),
  }]);
  assert.equal(decoder.pending, 0);
});

Deno.test("keys: the same keys however the input is split", () => {
  const input = enc.encode(
    "AT+SKT\x1b[A\x1b[B\x1b[C\x1b[D\x1b[1;5D\x1b[4~ünï€😀\x17\x15\x0b\x04\r",
  );
  const whole = new KeyDecoder().push(input);
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: input.length - 1 }), {
        maxLength: 8,
      }),
      (cuts) => {
        const decoder = new KeyDecoder();
        const keys: Key[] = [];
        let from = 0;
        for (const cut of [...cuts].sort((a, b) => a - b)) {
          keys.push(...decoder.push(input.slice(from, cut)));
          from = cut;
        }
        keys.push(...decoder.push(input.slice(from)));
        // Adjacent text keys may be split differently: compare the joined text.
        assert.deepEqual(joinText(keys), joinText(whole));
      },
    ),
  );
});

function joinText(keys: Key[]): Key[] {
  const out: Key[] = [];
  for (const key of keys) {
    const last = out[out.length - 1];
    if (key.type === "text" && last?.type === "text") {
      out[out.length - 1] = { type: "text", text: last.text + key.text };
    } else out.push(key);
  }
  return out;
}

Deno.test("editor: insert, move, delete, submit", () => {
  const editor = new LineEditor();
  type(editor, "AT+SKTDEL=3");
  assert.equal(editor.line, "AT+SKTDEL=3");
  type(editor, "\x1b[D\x1b[D5"); // left twice, insert
  assert.equal(editor.line, "AT+SKTDEL5=3");
  assert.equal(editor.cursor, 10);
  type(editor, "\x7f\x1b[3~"); // backspace, delete
  assert.equal(editor.line, "AT+SKTDEL3");
  type(editor, "\x01"); // Ctrl-A
  assert.equal(editor.cursor, 0);
  type(editor, "\x05="); // Ctrl-E, type
  assert.equal(editor.line, "AT+SKTDEL3=");
  type(editor, "\x1b[H\x1b[3~"); // Home, Delete
  assert.equal(editor.line, "T+SKTDEL3=");
  const events = type(editor, "\x1b[F0\r");
  assert.deepEqual(events, [{ type: "submit", line: "T+SKTDEL3=0" }]);
  assert.equal(editor.line, "");
  assert.equal(editor.cursor, 0);
});

Deno.test("editor: Ctrl-U, Ctrl-K, Ctrl-W", () => {
  const editor = new LineEditor();
  type(editor, "AT+SKTSEND=0,5,,,hello");
  type(editor, "\x17"); // Ctrl-W: the word before the cursor
  assert.equal(editor.line, "AT+SKTSEND=0,5,,,");
  type(editor, "\x17");
  assert.equal(editor.line, "AT+SKTSEND=0,");
  type(editor, "\x1b[D\x1b[D\x0b"); // Ctrl-K: from the cursor to the end
  assert.equal(editor.line, "AT+SKTSEND=");
  type(editor, "\x1b[D\x15"); // Ctrl-U: from the start to the cursor
  assert.equal(editor.line, "=");
  assert.equal(editor.cursor, 0);
});

Deno.test("editor: history with Up and Down keeps the draft", () => {
  const editor = new LineEditor();
  type(editor, "AT+SKTQUERY\r");
  type(editor, "AT+SKTSTATE\r");
  type(editor, "AT+SKTSTATE\r"); // a repeat is kept once
  type(editor, "  \r"); // blank lines are not kept
  assert.deepEqual(editor.history, ["AT+SKTQUERY", "AT+SKTSTATE"]);
  type(editor, "draft");
  type(editor, "\x1b[A");
  assert.equal(editor.line, "AT+SKTSTATE");
  type(editor, "\x1b[A");
  assert.equal(editor.line, "AT+SKTQUERY");
  type(editor, "\x1b[A"); // no older line: stays
  assert.equal(editor.line, "AT+SKTQUERY");
  type(editor, "\x1b[B\x1b[B");
  assert.equal(editor.line, "draft");
  type(editor, "\x1b[A\x1b[A");
  assert.deepEqual(type(editor, "\r"), [{
    type: "submit",
    line: "AT+SKTQUERY",
  }]);
  assert.deepEqual(editor.history, [
    "AT+SKTQUERY",
    "AT+SKTSTATE",
    "AT+SKTQUERY",
  ]);
});

Deno.test("editor: Ctrl-C clears, twice on an empty line quits; Ctrl-D quits on empty", () => {
  const editor = new LineEditor();
  type(editor, "abc");
  assert.deepEqual(type(editor, "\x03"), []);
  assert.equal(editor.line, "");
  assert.deepEqual(type(editor, "\x03"), [{ type: "interrupt" }]);
  assert.deepEqual(type(editor, "\x03"), [{ type: "quit" }]);
  type(editor, "x");
  assert.deepEqual(type(editor, "\x03\x03"), [{ type: "interrupt" }]);
  type(editor, "ab\x1b[D");
  assert.deepEqual(type(editor, "\x04"), []); // deletes under the cursor
  assert.equal(editor.line, "a");
  assert.deepEqual(type(editor, "\x15\x04"), [{ type: "quit" }]);
});

Deno.test("editor: Tab completes, lists on a second Tab, shows help on a full name", () => {
  const names = ["AT+SKTSEND=", "AT+SKTSENDRAW=", "AT+SKTSTATE"];
  const editor = new LineEditor({
    complete: (before) => {
      const matches = names.filter((n) => n.startsWith(before.toUpperCase()));
      if (matches.length === 1 && matches[0] === before) {
        return { matches: [], help: `syntax of ${before}` };
      }
      return { matches };
    },
  });
  type(editor, "at+skts");
  type(editor, "\t");
  assert.equal(editor.line, "AT+SKTS"); // canonical case
  type(editor, "\x1b[D\x1b[C"); // any other key: a Tab starts again
  assert.equal(editor.feed(enc.encode("\t")).screen, "\x07"); // nothing to add: bell
  const listed = editor.feed(enc.encode("\t")).screen;
  assert.match(listed, /AT\+SKTSEND= {2}AT\+SKTSENDRAW= {2}AT\+SKTSTATE\r\n/);
  type(editor, "T\t");
  assert.equal(editor.line, "AT+SKTSTATE");
  assert.match(editor.feed(enc.encode("\t")).screen, /syntax of AT\+SKTSTATE/);
  // Completion applies to the text before the cursor and keeps the rest.
  const e2 = new LineEditor({ complete: () => ({ matches: ["AT+SKTDEL="] }) });
  type(e2, "3\x01AT+SKTD\t");
  assert.equal(e2.line, "AT+SKTDEL=3");
  assert.equal(e2.cursor, "AT+SKTDEL=".length);
});

Deno.test("editor: renders on one row, scrolled sideways to keep the cursor visible", () => {
  const editor = new LineEditor({ prompt: "> ", columns: 20 });
  const screen = editor.feed(enc.encode("0123456789abcdefghijklmnop")).screen;
  const last = screen.slice(screen.lastIndexOf("\r\x1b[K"));
  // 20 columns: prompt 2, one spare, 17 characters: the tail of the line.
  assert.equal(last, "\r\x1b[K> " + "0123456789abcdefghijklmnop".slice(-17));
  editor.feed(enc.encode("\x01"));
  assert.equal(
    editor.render(),
    "\r\x1b[K> 0123456789abcdefg\x1b[17D",
  );
  assert.equal(editor.hide(), "\r\x1b[K");
  assert.equal(editor.setPrompt(">>> "), "\r\x1b[K>>> 0123456789abcde\x1b[15D");
});

Deno.test("editor: control characters in pasted text are dropped", () => {
  const editor = new LineEditor();
  editor.handle({ type: "text", text: "a\x00b\x1bc" });
  assert.equal(editor.line, "abc");
});
