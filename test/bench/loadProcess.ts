import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { trackChild } from "./cleanup.ts"
import { decodeLoadResult, failedRun, type LoadResult } from "./loadResult.ts"
import { projectRoot } from "./protos.ts"
import type { OperationKind } from "./scenarios.ts"

// Runs one load (loadGenerator.ts) in its own process against a server, and
// reads its result.

const here = path.dirname(fileURLToPath(import.meta.url))

export interface LoadSpec {
  readonly kind: OperationKind
  readonly concurrency: number
  readonly samplePeakRss: boolean
  /** Calls made before the timed warm-up (default none). */
  readonly warmupCalls?: number
}

export interface LoadTiming {
  readonly durationMillis: number
  readonly warmupMillis: number
  readonly channels: number
}

export const runLoad = (server: { readonly target: string; readonly pid: number }, load: LoadSpec, timing: LoadTiming): Promise<LoadResult> =>
  new Promise((resolve) => {
    const child = trackChild(spawn(process.execPath, [
      path.join(here, "loadGenerator.ts"),
      "--target", server.target,
      "--kind", load.kind,
      "--concurrency", String(load.concurrency),
      "--duration-ms", String(timing.durationMillis),
      "--warmup-ms", String(timing.warmupMillis),
      "--channels", String(timing.channels),
      "--server-pid", String(server.pid),
      ...(load.samplePeakRss ? ["--sample-rss"] : []),
      ...(load.warmupCalls === undefined ? [] : ["--warmup-calls", String(load.warmupCalls)])
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] }))
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("exit", (code, signal) => {
      if (code !== 0) {
        const why = stderr.trim().split("\n").slice(0, 3).join(" / ") || `exit ${code ?? signal}`
        return resolve(failedRun(load.kind, load.concurrency, `load generator failed: ${why}`))
      }
      try {
        resolve(decodeLoadResult(stdout))
      } catch (error) {
        resolve(failedRun(load.kind, load.concurrency, `unreadable load result: ${String(error)}`))
      }
    })
  })
