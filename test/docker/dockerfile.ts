import * as fs from "node:fs"
import * as path from "node:path"

// Just enough of the Dockerfile grammar to check docker/Dockerfile without a
// Docker engine: continuation lines, comments, global ARGs, stages, exec-form
// JSON arrays, LABEL pairs, and .dockerignore matching.

export interface Instruction {
  /** Upper case: FROM, RUN, COPY, … */
  readonly keyword: string
  readonly args: string
  readonly line: number
}

export interface Stage {
  /** The FROM image with global ARG defaults substituted. */
  readonly image: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

export interface Dockerfile {
  /** Defaults of the ARGs declared before the first FROM. */
  readonly globalArgs: ReadonlyMap<string, string>
  readonly stages: ReadonlyArray<Stage>
}

const logicalLines = (text: string): Array<{ text: string; line: number }> => {
  const out: Array<{ text: string; line: number }> = []
  let pending: { text: string; line: number } | undefined
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim()
    // Comments (and parser directives) are dropped, even inside a continuation.
    if (trimmed.startsWith("#")) return
    if (pending === undefined && trimmed === "") return
    const continues = trimmed.endsWith("\\")
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed
    pending = pending === undefined ? { text: body, line: index + 1 } : { text: `${pending.text} ${body}`.trim(), line: pending.line }
    if (!continues) {
      out.push(pending)
      pending = undefined
    }
  })
  if (pending !== undefined) out.push(pending)
  return out
}

export const substitute = (text: string, vars: ReadonlyMap<string, string>): string =>
  text.replace(
    /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (whole, braced: string | undefined, bare: string | undefined) => vars.get(braced ?? bare ?? "") ?? whole
  )

const argDefault = (args: string): readonly [string, string | undefined] => {
  const eq = args.indexOf("=")
  return eq === -1
    ? [args.trim(), undefined]
    : [
        args.slice(0, eq).trim(),
        args
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, "$1")
      ]
}

export const parseDockerfile = (text: string): Dockerfile => {
  const globalArgs = new Map<string, string>()
  const stages: Array<{ image: string; name: string | undefined; instructions: Array<Instruction> }> = []
  for (const { line, text: content } of logicalLines(text)) {
    const match = /^([A-Za-z]+)\s*(.*)$/.exec(content)
    if (match === null) throw new Error(`line ${line}: cannot parse ${JSON.stringify(content)}`)
    const keyword = (match[1] ?? "").toUpperCase()
    const args = match[2] ?? ""
    if (keyword === "FROM") {
      const from = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      if (from === null) throw new Error(`line ${line}: cannot parse FROM ${args}`)
      stages.push({ image: substitute(from[1] ?? "", globalArgs), name: from[2], instructions: [] })
    } else if (stages.length === 0) {
      if (keyword !== "ARG") throw new Error(`line ${line}: only ARG may come before the first FROM, got ${keyword}`)
      const [name, value] = argDefault(args)
      if (value !== undefined) globalArgs.set(name, value)
    } else {
      stages.at(-1)?.instructions.push({ keyword, args, line })
    }
  }
  return { globalArgs, stages }
}

export const readDockerfile = (file: string): Dockerfile => parseDockerfile(fs.readFileSync(file, "utf8"))

/** The JSON array of an exec-form instruction (ENTRYPOINT ["a", "b"]), or undefined for shell form. */
export const execForm = (args: string): ReadonlyArray<string> | undefined => {
  if (!args.trimStart().startsWith("[")) return undefined
  const parsed: unknown = JSON.parse(args)
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === "string")) throw new Error(`not a JSON string array: ${args}`)
  return parsed
}

export const instructionsOf = (stage: Stage, keyword: string): ReadonlyArray<Instruction> =>
  stage.instructions.filter((i) => i.keyword === keyword)

/** The last instruction of a kind in a stage (what Docker uses for WORKDIR, USER, ENTRYPOINT, CMD). */
export const lastOf = (stage: Stage, keyword: string): Instruction | undefined => instructionsOf(stage, keyword).at(-1)

/** key=value pairs of a LABEL instruction, quotes removed. */
export const labelsOf = (args: string): ReadonlyMap<string, string> => {
  const labels = new Map<string, string>()
  for (const match of args.matchAll(/([A-Za-z0-9._-]+)=("(?:[^"\\]|\\.)*"|\S+)/g)) {
    const raw = match[2] ?? ""
    labels.set(match[1] ?? "", raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, "$1") : raw)
  }
  return labels
}

export interface Copy {
  readonly from: string | undefined
  readonly sources: ReadonlyArray<string>
  readonly destination: string
}

/** COPY [--from=stage] [--chown=…] src… dest (shell form). */
export const parseCopy = (args: string): Copy => {
  const words = args.split(/\s+/).filter((w) => w.length > 0)
  let from: string | undefined
  const rest: Array<string> = []
  for (const word of words) {
    if (word.startsWith("--from=")) from = word.slice("--from=".length)
    else if (!word.startsWith("--")) rest.push(word)
  }
  if (rest.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`)
  return { from, sources: rest.slice(0, -1), destination: rest.at(-1) ?? "" }
}

/** Resolves a path the way WORKDIR does: relative paths are taken from the working directory. */
export const inWorkdir = (workdir: string, p: string): string => path.posix.resolve(workdir, p)

/**
 * Whether the build context keeps `file` (a path relative to the context)
 * under .dockerignore `patterns`: the last matching pattern wins, `!`
 * re-includes, and a pattern that matches a directory matches all inside it.
 */
export const contextKeeps = (patterns: ReadonlyArray<string>, file: string): boolean => {
  const parts = file.split("/")
  const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join("/"))
  let kept = true
  for (const raw of patterns) {
    const negated = raw.startsWith("!")
    const pattern = path.posix.normalize((negated ? raw.slice(1) : raw).trim()).replace(/^\/+|\/+$/g, "")
    const regex = globToRegExp(pattern)
    if (prefixes.some((prefix) => regex.test(prefix))) kept = negated
  }
  return kept
}

/** Go filepath.Match plus Docker's `**`: `*` and `?` stay within a path segment and match dot files too. */
const globToRegExp = (pattern: string): RegExp => {
  let source = ""
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] ?? ""
    if (c === "*" && pattern[i + 1] === "*") {
      source += ".*"
      i++
      if (pattern[i + 1] === "/") i++
    } else if (c === "*") source += "[^/]*"
    else if (c === "?") source += "[^/]"
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1)
      if (end === -1) throw new Error(`unterminated [ in ${pattern}`)
      source += `[${pattern.slice(i + 1, end).replace(/^!/, "^")}]`
      i = end
    } else source += c.replace(/[.+^${}()|\\]/g, "\\$&")
  }
  return new RegExp(`^${source}$`)
}

export const readIgnorePatterns = (file: string): ReadonlyArray<string> =>
  fs
    .readFileSync(file, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"))
