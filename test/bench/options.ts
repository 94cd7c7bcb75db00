import * as path from "node:path"
import { parseArgs } from "node:util"
import { imageNodeOptions } from "../docker/imageRuntime.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { scenarios } from "./scenarios.ts"

// The bench's knobs: flags, each with an env var fallback (handy in CI).

export interface BenchOptions {
  readonly smoke: boolean
  readonly sets: number
  readonly durationMillis: number
  readonly warmupMillis: number
  readonly channels: number
  /** Scenario ids to run, in the standard order. */
  readonly scenarioIds: ReadonlyArray<string>
  /** argv of the plugin before its own flags, e.g. [node, src/main.ts]. */
  readonly pluginCommand: ReadonlyArray<string>
  /** Another plugin command in the floor's seat (an A/B of two ways to run the plugin); undefined: the floor server. */
  readonly baselineCommand: ReadonlyArray<string> | undefined
  readonly outFile: string
  /** The Cloud KMS scenario set: with the fake-backend sets, skipped, or alone. */
  readonly cloud: "on" | "off" | "only"
  readonly stormDecrypts: number
  readonly burstDecrypts: number
  /** Calls each process of the Cloud KMS cost set makes before its timed warm-up (JIT). */
  readonly warmupCalls: number
}

export const usage = `usage: node test/bench/run.ts [options]
  --smoke              1 set, 0.5 s per scenario, 0.1 s warm-up; exits 1 on any error or zero ops
  --sets N             alternating plugin/floor sets (env BENCH_SETS, default 3)
  --duration S         measured seconds per scenario (env BENCH_DURATION, default 5)
  --warmup S           warm-up seconds per scenario (env BENCH_WARMUP, default 1)
  --channels N         client HTTP/2 connections (env BENCH_CHANNELS, default 4)
  --scenarios a,b      scenario ids to run (env BENCH_SCENARIOS, default all):
                       ${scenarios.map((s) => s.id).join(", ")}
  --plugin-cmd "..."   plugin command before its flags (env BENCH_PLUGIN_CMD,
                       default "node dist/main.mjs", the built entrypoint the image runs, with
                       the Node options docker/Dockerfile sets (ENV NODE_OPTIONS);
                       "node src/main.ts" for the sources); split on spaces, no shell;
                       a leading "node" means this Node (process.execPath)
  --baseline-cmd "..." run this plugin command in the floor's seat instead of the floor server
                       (env BENCH_BASELINE_CMD), e.g. the plugin without a Node flag against
                       --plugin-cmd with it: the same sets, alternating, ratios flagged/unflagged
  --out FILE           JSON results (env BENCH_OUT, default test/bench/results/latest.json)
  --cloud on|off|only  the Cloud KMS set (fake Cloud KMS, 20 ms per call): CPU per Encrypt and distinct
                       Decrypt against the bare @google-cloud/kms client and grpc-js server floors
                       (--sets alternating sets), cold-start storm of distinct v1beta1 Decrypts and a
                       burst of identical v2 Decrypts (env BENCH_CLOUD, default on)
  --storm N            Decrypts in the storm (env BENCH_STORM, default 2000; smoke 256)`

const number = (name: string, raw: string | undefined, fallback: number, min: number): number => {
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min) throw new Error(`--${name} must be a number >= ${min}, got "${raw}"`)
  return value
}

const cloudMode = (raw: string): "on" | "off" | "only" => {
  if (raw === "on" || raw === "off" || raw === "only") return raw
  throw new Error(`--cloud must be on, off or only, got "${raw}"`)
}

export const parseOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): BenchOptions | "help" => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      smoke: { type: "boolean", default: false },
      sets: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      channels: { type: "string" },
      scenarios: { type: "string" },
      "plugin-cmd": { type: "string" },
      "baseline-cmd": { type: "string" },
      out: { type: "string" },
      cloud: { type: "string" },
      storm: { type: "string" },
      help: { type: "boolean", default: false }
    }
  })
  if (values.help) return "help"
  const smoke = values.smoke || env["BENCH_SMOKE"] === "1"
  const wanted = (values.scenarios ?? env["BENCH_SCENARIOS"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
  const unknown = wanted.filter((id) => !scenarios.some((s) => s.id === id))
  if (unknown.length > 0) throw new Error(`unknown scenario(s): ${unknown.join(", ")}`)
  // By default the bundle as the image runs it: with the runtime stage's NODE_OPTIONS.
  const imageCommand = ["node", ...imageNodeOptions(), "dist/main.mjs"].join(" ")
  const pluginWords = (values["plugin-cmd"] ?? env["BENCH_PLUGIN_CMD"] ?? imageCommand).split(/\s+/).filter((w) => w !== "")
  if (pluginWords.length === 0) throw new Error("--plugin-cmd is empty")
  // The node on PATH may be an older one; the bench's own Node runs .ts.
  const withNode = (words: ReadonlyArray<string>) => (words[0] === "node" ? [process.execPath, ...words.slice(1)] : words)
  const baselineWords = (values["baseline-cmd"] ?? env["BENCH_BASELINE_CMD"] ?? "").split(/\s+/).filter((w) => w !== "")
  return {
    smoke,
    sets: smoke ? 1 : Math.floor(number("sets", values.sets ?? env["BENCH_SETS"], 3, 1)),
    durationMillis: 1000 * (smoke ? 0.5 : number("duration", values.duration ?? env["BENCH_DURATION"], 5, 0.1)),
    warmupMillis: 1000 * (smoke ? 0.1 : number("warmup", values.warmup ?? env["BENCH_WARMUP"], 1, 0)),
    channels: Math.floor(number("channels", values.channels ?? env["BENCH_CHANNELS"], 4, 1)),
    scenarioIds: wanted.length === 0 ? scenarios.map((s) => s.id) : scenarios.filter((s) => wanted.includes(s.id)).map((s) => s.id),
    pluginCommand: withNode(pluginWords),
    baselineCommand: baselineWords.length === 0 ? undefined : withNode(baselineWords),
    outFile: path.resolve(values.out ?? env["BENCH_OUT"] ?? path.join(projectRoot, "test/bench/results/latest.json")),
    cloud: cloudMode(values.cloud ?? env["BENCH_CLOUD"] ?? "on"),
    stormDecrypts: Math.floor(number("storm", values.storm ?? env["BENCH_STORM"], smoke ? 256 : 2000, 64)),
    burstDecrypts: smoke ? 50 : 200,
    warmupCalls: smoke ? 100 : 5000
  }
}
