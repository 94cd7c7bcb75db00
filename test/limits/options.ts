import * as path from "node:path"
import { parseArgs } from "node:util"
import { phases } from "../soak/phases.ts"
import { projectRoot } from "../support/projectRoot.ts"
import type { BulkLoad, LimitsConfig } from "./runLimits.ts"

// The two sizes of the limits run: `short` (CI: in npm test and the
// default of nothing else) and `long` (`npm run soak -- --limits`).

export type Preset = "short" | "long"

/** The scenarios and their sizes, without the limits and the plugin (read from the manifests and the build). */
export type Plan = Pick<LimitsConfig, "deadlineMillis" | "soak" | "storm" | "bulk">

// The bulk loads' callers wait 30 s, not the apiserver's 3 s: 256 callers ×
// 64 KiB in a closed loop keep the server saturated by design, so each call
// waits behind 255 others: the slowest took 4–5 s in the long runs and 6 s in an
// npm test on this 2-core machine shared with other work (load average
// 7–16), where the bare grpc-js floor server was no faster. The load is
// there for the memory it holds in flight; the deadline still catches a call
// that hangs or is lost.
const bulkDeadlineMillis = 30_000

const bulk = (kind: BulkLoad["kind"], plaintextBytes: number, concurrency: number, seconds: number): BulkLoad => ({
  kind,
  plaintextBytes,
  concurrency,
  durationMillis: seconds * 1000,
  warmupMillis: 1000,
  deadlineMillis: bulkDeadlineMillis
})

export const plans: Readonly<Record<Preset, Plan>> = {
  // About a minute (67–76 s measured with the machine loaded): the soak's phases at 1.5 s per share, a
  // 1000-Decrypt storm, and 4 s of 64 KiB Encrypts at c=256.
  short: {
    deadlineMillis: 3_000,
    soak: { phases: phases.map((phase) => ({ phase, durationMillis: Math.round(1_500 * phase.share) })), concurrency: 12, seed: 7 },
    storm: { decrypts: 1_000, concurrency: 64 },
    bulk: [bulk("v2-encrypt", 65_536, 256, 4)]
  },
  // About 6 min: the whole soak (25 s per share, 16 workers), the bench's
  // 2000-Decrypt storm, and Encrypts and round trips of 32 B and 64 KiB at
  // c=64 and c=256, 10 s each.
  long: {
    deadlineMillis: 3_000,
    soak: { phases: phases.map((phase) => ({ phase, durationMillis: Math.round(25_000 * phase.share) })), concurrency: 16, seed: 1 },
    storm: { decrypts: 2_000, concurrency: 64 },
    bulk: (["v2-encrypt", "v2-roundtrip"] as const).flatMap((kind) =>
      [32, 65_536].flatMap((bytes) => [64, 256].map((concurrency) => bulk(kind, bytes, concurrency, 10)))
    )
  }
}

export const usage = `usage: node test/limits/run.ts [options]   (also: npm run soak -- --limits [options])

The built entrypoint inside a fresh cgroup with docker/static-pod.yaml's
resources.limits (memory and CPU), through the fault soak's phases, a
cold-start storm of distinct Decrypts (cloud mode) and bulk Encrypts and round
trips (fake backend). Needs root (or a delegated cgroup v2) and the memory and
cpu controllers; fails, saying why, without them.

  --short          the CI size (about a minute) [default: the long one, about 6 min]
  --scenarios a,b  only these of soak, storm, bulk
  --entry FILE     an existing bundle (dist/main.mjs) instead of building the sources into a temp dir
  --node-options "…"  Node options for the plugin instead of the image's (docker/Dockerfile ENV NODE_OPTIONS);
                   "" for none (e.g. to measure a V8 flag)
  --memory-mib N   another memory limit than the manifest's (e.g. to find the floor)
  --cpus N         another CPU limit than the manifest's
  --out FILE       JSON results [default test/limits/results/latest.json; short: test/limits/results/short.json]
  --help`

export interface CliOptions {
  readonly help: boolean
  readonly preset: Preset
  readonly scenarios: ReadonlyArray<"soak" | "storm" | "bulk">
  readonly entry: string | undefined
  /** Undefined: the image's. */
  readonly nodeOptions: ReadonlyArray<string> | undefined
  readonly memoryMib: number | undefined
  readonly cpus: number | undefined
  readonly out: string
}

const positive = (flag: string, text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!(Number.isFinite(value) && value > 0)) throw new Error(`--${flag} must be a positive number, got ${text}\n\n${usage}`)
  return value
}

export const parseCliOptions = (argv: ReadonlyArray<string>): CliOptions => {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      short: { type: "boolean" },
      scenarios: { type: "string" },
      entry: { type: "string" },
      "node-options": { type: "string" },
      "memory-mib": { type: "string" },
      cpus: { type: "string" },
      out: { type: "string" },
      help: { type: "boolean" }
    },
    strict: true,
    allowPositionals: false
  })
  const all = ["soak", "storm", "bulk"] as const
  const wanted = values.scenarios === undefined ? [...all] : values.scenarios.split(",").map((s) => s.trim())
  const unknown = wanted.filter((s) => !all.some((name) => name === s))
  if (unknown.length > 0) throw new Error(`unknown scenario(s) ${unknown.join(", ")}\n\n${usage}`)
  const preset: Preset = values.short === true ? "short" : "long"
  return {
    help: values.help === true,
    preset,
    scenarios: all.filter((name) => wanted.includes(name)),
    entry: values.entry === undefined ? undefined : path.resolve(values.entry),
    nodeOptions: values["node-options"]?.split(/\s+/).filter((word) => word !== ""),
    memoryMib: positive("memory-mib", values["memory-mib"]),
    cpus: positive("cpus", values.cpus),
    out: path.resolve(values.out ?? path.join(projectRoot, `test/limits/results/${preset === "short" ? "short" : "latest"}.json`))
  }
}
