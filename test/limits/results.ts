import * as fs from "node:fs"

// A limits run's JSON read back (by the manifest's test), checked field by
// field: only what the readers use.

export interface MeasuredScenario {
  readonly name: string
  readonly memory: {
    readonly cgroupPeakMib: number
    readonly anonPeakMib: number
    readonly processPeakRssMib: number
    readonly limitMib: number
  }
  readonly cgroup: { readonly oomKills: number }
  readonly wrongPlaintexts: number
  readonly lateCalls: number
}

export interface MeasuredLimits {
  readonly preset: string
  readonly ok: boolean
  readonly limits: { readonly memoryMib: number; readonly cpus: number }
  /** The plugin's command line as measured: node, its options, the entry. */
  readonly command: ReadonlyArray<string>
  readonly scenarios: ReadonlyArray<MeasuredScenario>
}

const field = (value: unknown, name: string, where: string): unknown => {
  if (typeof value !== "object" || value === null || !(name in value)) throw new Error(`${where}: no ${name}`)
  return Reflect.get(value, name)
}
const num = (value: unknown, name: string, where: string): number => {
  const found = field(value, name, where)
  if (typeof found !== "number") throw new Error(`${where}.${name}: not a number`)
  return found
}

export const decodeLimitsResult = (text: string, where = "limits result"): MeasuredLimits => {
  const parsed: unknown = JSON.parse(text)
  const preset = field(parsed, "preset", where)
  const ok = field(parsed, "ok", where)
  const scenarios = field(parsed, "scenarios", where)
  if (typeof preset !== "string" || typeof ok !== "boolean" || !Array.isArray(scenarios)) throw new Error(`${where}: malformed`)
  const limits = field(parsed, "limits", where)
  const command = field(field(parsed, "plugin", where), "command", `${where}.plugin`)
  if (!Array.isArray(command) || !command.every((word: unknown) => typeof word === "string"))
    throw new Error(`${where}.plugin.command: not a list of strings`)
  return {
    command,
    preset,
    ok,
    limits: { memoryMib: num(limits, "memoryMib", `${where}.limits`), cpus: num(limits, "cpus", `${where}.limits`) },
    scenarios: scenarios.map((scenario: unknown, i): MeasuredScenario => {
      const at = `${where}.scenarios[${i}]`
      const name = field(scenario, "name", at)
      if (typeof name !== "string") throw new Error(`${at}.name: not a string`)
      const memory = field(scenario, "memory", at)
      return {
        name,
        memory: {
          cgroupPeakMib: num(memory, "cgroupPeakMib", `${at}.memory`),
          anonPeakMib: num(memory, "anonPeakMib", `${at}.memory`),
          processPeakRssMib: num(memory, "processPeakRssMib", `${at}.memory`),
          limitMib: num(memory, "limitMib", `${at}.memory`)
        },
        cgroup: { oomKills: num(field(scenario, "cgroup", at), "oomKills", `${at}.cgroup`) },
        wrongPlaintexts: num(scenario, "wrongPlaintexts", at),
        lateCalls: num(scenario, "lateCalls", at)
      }
    })
  }
}

export const readLimitsResult = (file: string): MeasuredLimits => decodeLimitsResult(fs.readFileSync(file, "utf8"), file)
