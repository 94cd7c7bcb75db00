import * as path from "node:path"
import { parseArgs } from "node:util"
import { projectRoot } from "../support/projectRoot.ts"
import type { SoakConfig } from "./driver.ts"
import { type Phase, phaseNames, phases } from "./phases.ts"

// Knobs of `npm run soak` (flag, or env var when the flag is absent).

export const usage = `usage: node test/soak/run.ts [options]

  --phase-seconds N        base phase length in seconds; each phase runs N × its share
                           (0.5–1.5), 8 N seconds in all [SOAK_PHASE_SECONDS, default 25]
  --concurrency N          closed-loop client workers [SOAK_CONCURRENCY, default 16]
  --min-calls-per-phase N  each phase also runs until it has made N calls [default 0: time alone]
  --seed N                 seed of the fault PRNG, the op mix and the plaintexts [SOAK_SEED, default 1]
  --deadline-ms N          per-call client deadline [SOAK_DEADLINE_MS, default 3000, the apiserver's]
  --phases a,b,…           run only these phases, in this order (${phaseNames.join(", ")})
  --src                    run src/main.ts instead of the bundle dist/main.mjs (which npm run soak builds) [SOAK_SRC=1]
  --log-level L            the plugin's log level [default debug: the most log lines to scan]
  --key-refresh-interval D the plugin's --key-refresh-interval [default 2s, so key checks run under faults]
  --max-heap-growth-mib N  allowed growth of the plugin's live heap (after a full GC) from the end of the
                           first phase to the end [default 16]
  --max-rss-growth-mib N   the same for VmRSS right after that GC [default 48]
  --plugin-arg ARG         extra plugin argument, repeatable (e.g. --plugin-arg=--kms-max-attempts=3)
  --node-arg ARG           Node option for the plugin process, repeatable (e.g. --node-arg=--max-old-space-size=64)
  --out FILE               JSON results [SOAK_OUT, default test/soak/results/latest.json]
  --keep-log FILE          also write the plugin's whole log there
  --limits                 instead: the built entrypoint inside the static pod's memory and CPU limits
                           (test/limits/run.ts; \`npm run soak -- --limits --help\` lists its options)
  --help`

export interface RunOptions {
  readonly config: Omit<SoakConfig, "log">
  readonly out: string
  readonly keepLog: string | undefined
  readonly help: boolean
}

const fail = (message: string): never => {
  throw new Error(`${message}\n\n${usage}`)
}

const positive = (flag: string, text: string | undefined, fallback: number, integer = true): number => {
  if (text === undefined || text === "") return fallback
  const value = Number(text)
  if (!(Number.isFinite(value) && value > 0 && (!integer || Number.isSafeInteger(value)))) {
    return fail(`--${flag} must be a positive ${integer ? "whole " : ""}number, got ${text}`)
  }
  return value
}

export const parseRunOptions = (argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): RunOptions => {
  let values
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        "phase-seconds": { type: "string" },
        concurrency: { type: "string" },
        "min-calls-per-phase": { type: "string" },
        seed: { type: "string" },
        "deadline-ms": { type: "string" },
        phases: { type: "string" },
        src: { type: "boolean" },
        "log-level": { type: "string" },
        "key-refresh-interval": { type: "string" },
        "max-heap-growth-mib": { type: "string" },
        "max-rss-growth-mib": { type: "string" },
        "plugin-arg": { type: "string", multiple: true },
        "node-arg": { type: "string", multiple: true },
        out: { type: "string" },
        "keep-log": { type: "string" },
        help: { type: "boolean" }
      },
      strict: true,
      allowPositionals: false
    }).values
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
  const phaseMillis = 1000 * positive("phase-seconds", values["phase-seconds"] ?? env["SOAK_PHASE_SECONDS"], 25, false)
  const chosen: ReadonlyArray<Phase> =
    values.phases === undefined
      ? phases
      : values.phases.split(",").map((name) => phases.find((phase) => phase.name === name.trim()) ?? fail(`unknown phase ${name}`))
  return {
    help: values.help === true,
    out: path.resolve(values.out ?? env["SOAK_OUT"] ?? path.join(projectRoot, "test/soak/results/latest.json")),
    keepLog: values["keep-log"],
    config: {
      phases: chosen.map((phase) => ({ phase, durationMillis: Math.round(phaseMillis * phase.share) })),
      concurrency: positive("concurrency", values.concurrency ?? env["SOAK_CONCURRENCY"], 16),
      minCallsPerPhase: values["min-calls-per-phase"] === "0" ? 0 : positive("min-calls-per-phase", values["min-calls-per-phase"], 0),
      seed: positive("seed", values.seed ?? env["SOAK_SEED"], 1),
      deadlineMillis: positive("deadline-ms", values["deadline-ms"] ?? env["SOAK_DEADLINE_MS"], 3_000),
      built: !(values.src === true || env["SOAK_SRC"] === "1"),
      logLevel: values["log-level"] ?? "debug",
      keyRefreshInterval: values["key-refresh-interval"] ?? "2s",
      pluginArgs: values["plugin-arg"] ?? [],
      nodeArgs: values["node-arg"] ?? [],
      maxHeapGrowthMib: positive("max-heap-growth-mib", values["max-heap-growth-mib"], 16, false),
      maxRssGrowthMib: positive("max-rss-growth-mib", values["max-rss-growth-mib"], 48, false)
    }
  }
}
