/**
 * The imports of a TypeScript source, read the way the compiler reads them:
 * static `import` and `export ... from`, and dynamic `import("...")` of a
 * literal, each with its line. Comments, strings, template literals (and
 * the code inside their `${}`, which is read as code) and regular
 * expression literals are skipped, so an example in a doc comment or
 * generated code in a string is not an import. Used by
 * `tools/check_imports.ts`.
 *
 * @module
 */

/** An import specifier found in a source file. */
export interface Specifier {
  /** The text between the quotes. */
  specifier: string;
  /** 1-based line of the specifier. */
  line: number;
  /** `import("...")` rather than a static import or re-export. */
  dynamic: boolean;
}

/** A global name used in a file (for the protocol's no-I/O rule). */
export interface GlobalUse {
  name: string;
  line: number;
}

type Token =
  | { kind: "word"; text: string; line: number }
  | { kind: "string"; text: string; line: number; template: boolean }
  | { kind: "punct"; text: string; line: number };

/** After these words a `/` starts a regular expression, not a division. */
const BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

/**
 * Splits TypeScript source into words, string literals (templates without
 * `${}` count as strings; the code inside `${}` is tokenized too) and
 * punctuation, skipping comments and regular expression literals.
 */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let line = 1;
  // Template nesting: for each open `${`, the brace depth it started at.
  const templates: number[] = [];
  let depth = 0;
  const last = () => tokens[tokens.length - 1];
  const regexAllowed = () => {
    const t = last();
    if (!t) return true;
    if (t.kind === "string") return false;
    if (t.kind === "word") return BEFORE_REGEX.has(t.text);
    return !(t.text === ")" || t.text === "]" || t.text === "}");
  };

  /** Reads a template's text from `i` (just after a backtick or `}`). */
  const readTemplate = (startLine: number) => {
    let value = "";
    while (i < text.length) {
      const c = text[i];
      if (c === "\\") {
        value += text.slice(i, i + 2);
        if (text[i + 1] === "\n") line++;
        i += 2;
      } else if (c === "`") {
        i++;
        tokens.push({
          kind: "string",
          text: value,
          line: startLine,
          template: true,
        });
        return;
      } else if (c === "$" && text[i + 1] === "{") {
        i += 2;
        // A template with a substitution is not a literal specifier.
        tokens.push({ kind: "punct", text: "`${", line: startLine });
        templates.push(depth);
        depth++;
        return;
      } else {
        if (c === "\n") line++;
        value += c;
        i++;
      }
    }
  };

  while (i < text.length) {
    const c = text[i];
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "/" && text[i + 1] === "/") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      const stop = end < 0 ? text.length : end + 2;
      for (let k = i; k < stop; k++) if (text[k] === "\n") line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      const startLine = line;
      let value = "";
      i++;
      while (i < text.length && text[i] !== c && text[i] !== "\n") {
        if (text[i] === "\\") {
          value += text.slice(i, i + 2);
          i += 2;
        } else value += text[i++];
      }
      i++;
      tokens.push({
        kind: "string",
        text: value,
        line: startLine,
        template: false,
      });
    } else if (c === "`") {
      i++;
      readTemplate(line);
    } else if (c === "/" && regexAllowed()) {
      i++;
      let inClass = false;
      while (i < text.length && text[i] !== "\n") {
        const r = text[i];
        if (r === "\\") i += 2;
        else {
          i++;
          if (r === "[") inClass = true;
          else if (r === "]") inClass = false;
          else if (r === "/" && !inClass) break;
        }
      }
      while (i < text.length && /[a-z]/.test(text[i])) i++;
      tokens.push({ kind: "punct", text: "/regex/", line });
    } else if (/[A-Za-z_$]/.test(c)) {
      let end = i + 1;
      while (end < text.length && /[\w$]/.test(text[end])) end++;
      tokens.push({ kind: "word", text: text.slice(i, end), line });
      i = end;
    } else if (/[0-9]/.test(c)) {
      let end = i + 1;
      while (end < text.length && /[\w.]/.test(text[end])) end++;
      tokens.push({ kind: "word", text: text.slice(i, end), line });
      i = end;
    } else if (c === "{") {
      depth++;
      tokens.push({ kind: "punct", text: c, line });
      i++;
    } else if (c === "}") {
      depth--;
      i++;
      if (templates.length && templates[templates.length - 1] === depth) {
        templates.pop();
        tokens.push({ kind: "punct", text: "}`", line });
        readTemplate(line);
      } else tokens.push({ kind: "punct", text: c, line });
    } else {
      tokens.push({ kind: "punct", text: c, line });
      i++;
    }
  }
  return tokens;
}

/** Tokens that may stand between `import`/`export` and `from`. */
function inClause(t: Token): boolean {
  if (t.kind === "word") return true;
  return t.kind === "punct" && ["{", "}", ",", "*"].includes(t.text);
}

/** Names whose use in the protocol package means I/O or timers. */
const IO_GLOBALS = new Set([
  "Deno",
  "setTimeout",
  "setInterval",
  "queueMicrotask",
  "fetch",
  // The way around the names above (`globalThis.setTimeout`), and a clock:
  // a sans-I/O core is handed the time, it does not read it.
  "globalThis",
  "performance",
  "Date",
]);

/**
 * The import specifiers of a TypeScript source, and its uses of the
 * globals that mean I/O or timers (`Deno`, `setTimeout`, `setInterval`,
 * `queueMicrotask`, `fetch`, `globalThis`, `performance`, `Date`; a
 * property or an object key of that name does not count).
 */
export function scan(
  text: string,
): { specifiers: Specifier[]; globals: GlobalUse[] } {
  const tokens = tokenize(text);
  const specifiers: Specifier[] = [];
  const globals: GlobalUse[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i];
    if (t.kind !== "word") continue;
    const prev = tokens[i - 1];
    const member = prev?.kind === "punct" && prev.text === ".";
    const after = tokens[i + 1];
    const key = prev?.kind === "punct" &&
      (prev.text === "{" || prev.text === ",") &&
      after?.kind === "punct" && after.text === ":";
    if (IO_GLOBALS.has(t.text) && !member && !key) {
      globals.push({ name: t.text, line: t.line });
    }
    if ((t.text !== "import" && t.text !== "export") || member) continue;
    const next = tokens[i + 1];
    if (t.text === "import" && next?.kind === "punct" && next.text === "(") {
      const arg = tokens[i + 2];
      const close = tokens[i + 3];
      if (
        arg?.kind === "string" && close?.kind === "punct" &&
        (close.text === ")" || close.text === ",")
      ) {
        specifiers.push({ specifier: arg.text, line: arg.line, dynamic: true });
      }
      continue;
    }
    if (t.text === "import" && next?.kind === "string") {
      specifiers.push({
        specifier: next.text,
        line: next.line,
        dynamic: false,
      });
      continue;
    }
    let k = i + 1;
    while (k < tokens.length && inClause(tokens[k])) {
      const w = tokens[k];
      const after = tokens[k + 1];
      if (w.kind === "word" && w.text === "from" && after?.kind === "string") {
        specifiers.push({
          specifier: after.text,
          line: after.line,
          dynamic: false,
        });
        break;
      }
      k++;
    }
  }
  return { specifiers, globals };
}

/**
 * The import specifiers of a TypeScript source: static imports and
 * re-exports, and dynamic imports of a literal, with their lines.
 */
export function importSpecifiers(text: string): Specifier[] {
  return scan(text).specifiers;
}
