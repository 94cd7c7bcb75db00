import { execFile } from "node:child_process"
import { mainScript, projectRoot } from "../support/projectRoot.ts"

// The command line as an operator sees it: `--help` of the real entrypoint,
// parsed. The docs and the manifests are checked against this, so they
// cannot name a flag the plugin does not take.

export interface HelpFlag {
  /** e.g. "--key-uri" */
  readonly name: string
  /** e.g. ["-h"] */
  readonly aliases: ReadonlyArray<string>
  readonly description: string
  /** From "[env KMS_PLUGIN_…]" in the description. */
  readonly envVar: string | undefined
  /** From "Default <value>." in the description. */
  readonly defaultValue: string | undefined
}

export interface HelpText {
  readonly flags: ReadonlyArray<HelpFlag>
  readonly globalFlags: ReadonlyArray<HelpFlag>
  readonly subcommands: ReadonlyArray<string>
}

const flagLine = /^\s+(--[a-z0-9][a-z0-9-]*)((?:, -[A-Za-z0-9])*)(?: [^\s-]\S*)?\s{2,}(\S.*)$/
const subcommandLine = /^\s+([a-z][a-z0-9-]*)\s{2,}\S/
const heading = /^[A-Z][A-Z ]+$/

const toFlag = (name: string, aliases: string, description: string): HelpFlag => ({
  name,
  aliases: aliases
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a.length > 0),
  description,
  envVar: /\[env ([A-Z0-9_]+)\]/.exec(description)?.[1],
  defaultValue: /\bDefault (\S+?)\.(?:\s|$)/.exec(description)?.[1]
})

/** Parses effect/cli's help layout: FLAGS, GLOBAL FLAGS and SUBCOMMANDS sections. */
export const parseHelp = (text: string): HelpText => {
  const sections = new Map<string, Array<string>>()
  let current: Array<string> | undefined
  for (const line of text.split("\n")) {
    if (heading.test(line)) {
      current = []
      sections.set(line.trim(), current)
    } else if (current !== undefined && line.trim() !== "") {
      current.push(line)
    }
  }
  const flagsOf = (section: string): Array<HelpFlag> => {
    const flags: Array<{ name: string; aliases: string; description: string }> = []
    for (const line of sections.get(section) ?? []) {
      const match = flagLine.exec(line)
      if (match !== null) {
        flags.push({ name: match[1] ?? "", aliases: match[2] ?? "", description: match[3] ?? "" })
      } else {
        // A wrapped description continues the previous flag.
        const last = flags.at(-1)
        if (last === undefined) throw new Error(`unexpected line in ${section}: ${JSON.stringify(line)}`)
        last.description = `${last.description} ${line.trim()}`
      }
    }
    return flags.map((f) => toFlag(f.name, f.aliases, f.description))
  }
  const subcommands = (sections.get("SUBCOMMANDS") ?? []).flatMap((line) => {
    const match = subcommandLine.exec(line)
    return match === null ? [] : [match[1] ?? ""]
  })
  return { flags: flagsOf("FLAGS"), globalFlags: flagsOf("GLOBAL FLAGS"), subcommands }
}

/** Runs the entrypoint with `args` (ending in --help) and parses what it prints; fails unless it exits 0. */
export const readHelp = (args: ReadonlyArray<string>): Promise<HelpText> =>
  new Promise((resolve, reject) => {
    execFile(process.execPath, [mainScript, ...args], { cwd: projectRoot }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${args.join(" ")} failed: ${error.message}\n${stderr}`))
      else resolve(parseHelp(stdout))
    })
  })

/** The root command's help and each sub-command's, keyed by sub-command name ("" = the plugin itself). */
export const readAllHelp = async (): Promise<ReadonlyMap<string, HelpText>> => {
  const root = await readHelp(["--help"])
  const subs = await Promise.all(root.subcommands.map(async (name) => [name, await readHelp([name, "--help"])] as const))
  return new Map<string, HelpText>([["", root], ...subs])
}

/** `--name=value` and `--name value` pairs of an argument list; a bare `--name` maps to "true". */
export const parseArgs = (args: ReadonlyArray<string>): ReadonlyArray<readonly [string, string]> => {
  const pairs: Array<readonly [string, string]> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? ""
    if (!arg.startsWith("--")) throw new Error(`not a flag: ${arg}`)
    const eq = arg.indexOf("=")
    if (eq !== -1) {
      pairs.push([arg.slice(0, eq), arg.slice(eq + 1)])
    } else if (i + 1 < args.length && !(args[i + 1] ?? "").startsWith("--")) {
      pairs.push([arg, args[i + 1] ?? ""])
      i++
    } else {
      pairs.push([arg, "true"])
    }
  }
  return pairs
}
