import * as fs from "node:fs"
import * as path from "node:path"

// Summarises a V8 .cpuprofile (from `node --cpu-prof`): the functions with the
// most self time, and self time grouped by where the code comes from (the
// plugin's src/, each node_modules package, Node internals, GC, idle).
//
//   node test/bench/cpuProfileTop.ts PROFILE.cpuprofile [--top 25] [--skip-ms 5000]
//
// --skip-ms leaves out the first N ms of the profile (start-up, warm-up), so
// only the steady state under load is summed.

interface ProfileNode {
  readonly id: number
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

const get = (value: object, name: string): unknown => (name in value ? Reflect.get(value, name) : undefined)
const isObject = (value: unknown): value is object => typeof value === "object" && value !== null

const numbers = (value: unknown, what: string): ReadonlyArray<number> => {
  if (!Array.isArray(value)) throw new Error(`profile: ${what} is not an array`)
  return value.map((n: unknown) => {
    if (typeof n !== "number") throw new Error(`profile: ${what} holds a non-number`)
    return n
  })
}

const decode = (text: string) => {
  const parsed: unknown = JSON.parse(text)
  if (!isObject(parsed)) throw new Error("profile is not an object")
  const rawNodes = get(parsed, "nodes")
  if (!Array.isArray(rawNodes)) throw new Error("profile has no nodes")
  const nodes = new Map<number, ProfileNode>()
  for (const raw of rawNodes) {
    const frame: unknown = isObject(raw) ? get(raw, "callFrame") : undefined
    const id: unknown = isObject(raw) ? get(raw, "id") : undefined
    if (!isObject(frame) || typeof id !== "number") throw new Error("profile node without id or callFrame")
    const functionName = get(frame, "functionName")
    const url = get(frame, "url")
    const lineNumber = get(frame, "lineNumber")
    nodes.set(id, {
      id,
      functionName: typeof functionName === "string" && functionName !== "" ? functionName : "(anonymous)",
      url: typeof url === "string" ? url : "",
      lineNumber: typeof lineNumber === "number" ? lineNumber : -1
    })
  }
  return { nodes, samples: numbers(get(parsed, "samples"), "samples"), timeDeltas: numbers(get(parsed, "timeDeltas"), "timeDeltas") }
}

/** Where a function's code lives, coarse enough to add up. */
const originOf = (node: ProfileNode): string => {
  if (node.url === "") return node.functionName.startsWith("(") ? node.functionName : "(native)"
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(node.url)
  if (packageMatch?.[1] !== undefined) return packageMatch[1]
  if (node.url.startsWith("node:")) return "node internals"
  const srcMatch = /\/(src|dist|test)\//.exec(node.url)
  return srcMatch?.[1] !== undefined ? `${srcMatch[1]}/ (project)` : node.url
}

const shortUrl = (url: string): string => {
  const inModules = url.lastIndexOf("node_modules/")
  if (inModules >= 0) return url.slice(inModules + "node_modules/".length)
  const inSrc = url.search(/\/(src|dist|test)\//)
  return inSrc >= 0 ? url.slice(inSrc + 1) : path.basename(url)
}

const args = process.argv.slice(2)
const file = args.find((a) => !a.startsWith("--"))
const topIndex = args.indexOf("--top")
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25
const skipIndex = args.indexOf("--skip-ms")
const skipMicros = skipIndex >= 0 ? Number(args[skipIndex + 1]) * 1000 : 0
if (file === undefined || !Number.isInteger(top) || top <= 0 || !(skipMicros >= 0)) {
  process.stderr.write("usage: node test/bench/cpuProfileTop.ts PROFILE.cpuprofile [--top N] [--skip-ms N]\n")
  process.exit(2)
}

const profile = decode(fs.readFileSync(file, "utf8"))
const byFunction = new Map<string, number>()
const byOrigin = new Map<string, number>()
let total = 0
let elapsed = 0
profile.samples.forEach((id, index) => {
  // timeDeltas[i] is the time since the previous sample: charge it to sample i.
  const micros = profile.timeDeltas[index] ?? 0
  elapsed += micros
  const node = profile.nodes.get(id)
  if (node === undefined || elapsed < skipMicros) return
  total += micros
  const key = `${node.functionName}  ${shortUrl(node.url)}${node.lineNumber >= 0 ? `:${node.lineNumber + 1}` : ""}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
  byOrigin.set(originOf(node), (byOrigin.get(originOf(node)) ?? 0) + micros)
})

// Idle time is the event loop waiting: shown, but percentages are of busy time.
const busy = total - (byOrigin.get("(idle)") ?? 0)

const out: Array<string> = []
const table = (title: string, entries: Map<string, number>, limit: number) => {
  out.push(
    "",
    `${title} (${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy)`,
    "",
    "| self ms | % of busy | function |",
    "|---:|---:|---|"
  )
  for (const [name, micros] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
    const share = name.startsWith("(idle)") ? "–" : ((100 * micros) / busy).toFixed(1)
    out.push(`| ${(micros / 1000).toFixed(0)} | ${share} | ${name.replaceAll("|", "\\|")} |`)
  }
}

table("Self time by origin", byOrigin, 20)
table(`Top ${top} functions by self time`, byFunction, top)
process.stdout.write(`${out.join("\n")}\n`)
