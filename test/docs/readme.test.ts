import * as fs from "node:fs"
import * as path from "node:path"
import { assert, beforeAll, describe, it } from "@effect/vitest"
import { projectRoot } from "../support/projectRoot.ts"
import { type HelpFlag, type HelpText, readAllHelp } from "./cliHelp.ts"

// The README's flag reference against `--help` of the real entrypoint, so the
// two cannot drift: the same flags (no more, no fewer), the same env vars, the
// same defaults. And every plugin command line in the README uses real flags.

const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
const lines = readme.split("\n")

interface Row {
  readonly names: ReadonlyArray<string>
  readonly envVar: string | undefined
  readonly defaultCell: string
  readonly line: number
}

/** Cells of a markdown table row; `\|` stays inside a cell. */
const cells = (row: string): Array<string> =>
  row
    .trim()
    .replace(/^\||\|$/g, "")
    .split(/(?<!\\)\|/)
    .map((c) => c.trim())

const backticked = (cell: string): Array<string> => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] ?? "")

/** The first table after the heading that matches, as flag rows. */
const tableAfter = (headingPattern: RegExp): ReadonlyArray<Row> | undefined => {
  const start = lines.findIndex((l) => /^#{2,4} /.test(l) && headingPattern.test(l))
  if (start === -1) return undefined
  let i = start + 1
  while (i < lines.length && !lines[i]?.startsWith("|")) {
    if (/^#{1,4} /.test(lines[i] ?? "")) return undefined
    i++
  }
  const [header, separator] = [cells(lines[i] ?? ""), lines[i + 1] ?? ""]
  assert.deepStrictEqual(header, ["Flag", "Env var", "Default", "What it does"], `table header at line ${i + 1}`)
  assert.match(separator, /^\|(?:\s*-{3,}\s*\|){4}$/)
  const rows: Array<Row> = []
  for (let j = i + 2; j < lines.length && lines[j]?.startsWith("|"); j++) {
    const [flag = "", env = "", defaultCell = "", what = ""] = cells(lines[j] ?? "")
    assert.isAbove(what.length, 5, `line ${j + 1}: describe the flag`)
    const envVars = backticked(env)
    assert.isAtMost(envVars.length, 1, `line ${j + 1}`)
    if (envVars.length === 0) assert.strictEqual(env, "—", `line ${j + 1}: no env var is written —`)
    rows.push({ names: backticked(flag).filter((n) => n.startsWith("-")), envVar: envVars[0], defaultCell, line: j + 1 })
  }
  return rows
}

const namesOf = (flags: ReadonlyArray<HelpFlag>) => flags.map((f) => f.name).sort()

/** The README rows match the help's flags one to one: names, aliases, env vars, defaults. */
const assertTableMatches = (rows: ReadonlyArray<Row>, flags: ReadonlyArray<HelpFlag>, what: string) => {
  assert.deepStrictEqual(
    rows.map((r) => r.names[0] ?? "").sort(),
    namesOf(flags),
    `${what}: the table must list exactly the flags --help lists`
  )
  for (const flag of flags) {
    const row = rows.find((r) => r.names[0] === flag.name)
    assert.isDefined(row)
    assert.deepStrictEqual(row?.names.slice(1), [...flag.aliases], `${what} ${flag.name}: aliases (line ${row?.line})`)
    assert.strictEqual(row?.envVar, flag.envVar, `${what} ${flag.name}: env var (line ${row?.line})`)
    if (flag.defaultValue !== undefined) {
      assert.strictEqual(backticked(row?.defaultCell ?? "")[0], flag.defaultValue, `${what} ${flag.name}: default (line ${row?.line})`)
    }
  }
}

let help: ReadonlyMap<string, HelpText> = new Map()
const helpOf = (command: string): HelpText => {
  const found = help.get(command)
  if (found === undefined) throw new Error(`no --help for ${JSON.stringify(command)}`)
  return found
}

beforeAll(async () => {
  help = await readAllHelp()
})

describe("README flag reference", () => {
  it("the table parser reads names, aliases, env vars and escaped pipes", () => {
    assert.deepStrictEqual(cells("| `--kms` *v1\\|v2* | `KMS_PLUGIN_KMS` | `both` | x |"), [
      "`--kms` *v1\\|v2*",
      "`KMS_PLUGIN_KMS`",
      "`both`",
      "x"
    ])
    assert.deepStrictEqual(backticked("`--help`, `-h`"), ["--help", "-h"])
  })

  it("lists exactly the plugin's flags and global flags, with their env vars and defaults", () => {
    const root = helpOf("")
    assert.isAbove(root.flags.length, 20)
    assert.includeMembers(namesOf(root.globalFlags), ["--help", "--version"])
    const rows = tableAfter(/^## Flag reference$/)
    assert.isDefined(rows, "README has no table under '## Flag reference'")
    assertTableMatches(rows ?? [], [...root.flags, ...root.globalFlags], "plugin")
  })

  it("every sub-command has its own table, or takes exactly the plugin's flags and the README says so", () => {
    const root = helpOf("")
    assert.includeMembers([...root.subcommands], ["probe", "selftest"])
    for (const sub of root.subcommands) {
      const subHelp = helpOf(sub)
      assert.deepStrictEqual(namesOf(subHelp.globalFlags), namesOf(root.globalFlags), `${sub}: global flags`)
      const rows = tableAfter(new RegExp(`^### \`${sub}\` flags$`))
      if (rows !== undefined) {
        assertTableMatches(rows, subHelp.flags, sub)
      } else {
        assert.deepStrictEqual(
          namesOf(subHelp.flags),
          namesOf(root.flags),
          `${sub} has flags of its own: give it a '### \`${sub}\` flags' table`
        )
        assert.include(readme, `\`${sub}\` takes the same flags as the plugin`)
      }
    }
    assert.isDefined(tableAfter(/^### `probe` flags$/))
  })

  it("every sub-command the README documents exists", () => {
    const documented = [...readme.matchAll(/^### `([a-z-]+)` flags$/gm)].map((m) => m[1] ?? "")
    for (const sub of documented) assert.include(helpOf("").subcommands, sub)
  })
})

/** Shell commands of the README's ```sh blocks, continuation lines joined. */
const shellCommands = (): Array<string> => {
  const commands: Array<string> = []
  let inShell = false
  let pending = ""
  for (const line of lines) {
    // Fences may be indented (a code block inside a list item).
    if (line.trimStart().startsWith("```")) {
      inShell = !inShell && line.trim() === "```sh"
      continue
    }
    if (!inShell) continue
    const body = line.replace(/\s+#.*$/, "")
    if (body.trimEnd().endsWith("\\")) {
      pending += `${body.trimEnd().slice(0, -1)} `
    } else {
      commands.push(`${pending}${body}`.trim())
      pending = ""
    }
  }
  return commands.filter((c) => c.length > 0)
}

/**
 * The plugin's own words on a command line: after main.mjs, the bin name, or
 * the image of a `docker run` / `nerdctl run`; up to a pipe or `;`.
 */
const pluginInvocations = (command: string): Array<{ readonly sub: string; readonly flags: ReadonlyArray<string> }> => {
  const words = command.split(/\s+/)
  const runsImage = /^(sudo )?(docker|nerdctl) run\b/.test(command)
  const found: Array<{ sub: string; flags: Array<string> }> = []
  words.forEach((word, index) => {
    const isImage = runsImage && /^"?\$\{PLUGIN_IMAGE\}"?$/.test(word)
    if (!isImage && !/(main\.mjs$)|(^k8s-cloudkms-plugin$)/.test(word)) return
    const rest: Array<string> = []
    for (const next of words.slice(index + 1)) {
      if (/^(\||;|&&|>|\))/.test(next)) break
      rest.push(next)
    }
    const sub = rest[0] !== undefined && !rest[0].startsWith("-") ? rest[0] : ""
    found.push({ sub, flags: rest.filter((w) => w.startsWith("--")).map((w) => w.split("=")[0] ?? w) })
  })
  return found
}

describe("README command lines", () => {
  it("the scanner finds plugin invocations in shell commands", () => {
    assert.deepStrictEqual(pluginInvocations(`docker run --rm --network host "\${PLUGIN_IMAGE}" selftest --key-uri="x" | tee`), [
      { sub: "selftest", flags: ["--key-uri"] }
    ])
    assert.deepStrictEqual(pluginInvocations("node dist/main.mjs --nope=1"), [{ sub: "", flags: ["--nope"] }])
    assert.deepStrictEqual(pluginInvocations(`docker build -t "\${PLUGIN_IMAGE}" --label x .`), [])
  })

  it("every flag given to the plugin, probe or selftest in the README is one that command takes", () => {
    const invocations = shellCommands().flatMap(pluginInvocations)
    assert.isAtLeast(invocations.filter((i) => i.sub === "selftest").length, 1)
    assert.isAtLeast(invocations.filter((i) => i.sub === "probe").length, 2)
    for (const { flags, sub } of invocations) {
      const known = new Set(namesOf([...helpOf(sub).flags, ...helpOf(sub).globalFlags]))
      for (const flag of flags) assert.isTrue(known.has(flag), `${sub || "plugin"} does not take ${flag}`)
    }
  })

  it("every docker/ file the README links to exists", () => {
    const linked = [...readme.matchAll(/\]\((docker\/[^)\s]+)\)/g)].map((m) => m[1] ?? "")
    assert.includeMembers(linked, ["docker/Dockerfile", "docker/static-pod.yaml", "docker/encryption-config-v2.yaml"])
    for (const file of linked) assert.isTrue(fs.existsSync(path.join(projectRoot, file)), file)
  })

  it("the etcd prefix the README shows is the v2 provider's name in docker/encryption-config-v2.yaml", () => {
    const config = fs.readFileSync(path.join(projectRoot, "docker/encryption-config-v2.yaml"), "utf8")
    const name = /^\s+name: (\S+)$/m.exec(config)?.[1]
    assert.isString(name)
    assert.include(readme, `\`k8s:enc:kms:v2:${name ?? ""}:\``)
  })
})
