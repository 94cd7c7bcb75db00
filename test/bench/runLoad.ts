import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { projectRoot } from "../support/projectRoot.ts"
import { trackChild } from "./cleanup.ts"
import { decodeLoadResult, failedRun, type LoadResult } from "./loadResult.ts"
import type { OperationKind } from "./scenarios.ts"

// One load-generator process (loadGenerator.ts) against a running server,
// its JSON answer decoded; a crash or an unreadable answer is a failed run.

const here = path.dirname(fileURLToPath(import.meta.url))

export interface LoadRun {
  readonly kind: OperationKind
  readonly concurrency: number
  readonly durationMillis: number
  readonly warmupMillis: number
  readonly channels: number
  /** Sample the server's VmRSS every 50 ms, for its peak. */
  readonly sampleRss: boolean
  /** Default 32 (a DEK seed). */
  readonly plaintextBytes?: number
  /** Each call's deadline; default 10 s. */
  readonly deadlineMillis?: number
  /** Calls made before the timed warm-up (default none): on a loaded machine a timed warm-up alone can leave the JIT cold. */
  readonly warmupCalls?: number
}

export const runLoadGenerator = (server: { readonly target: string; readonly pid: number }, run: LoadRun): Promise<LoadResult> =>
  new Promise((resolve) => {
    const child = trackChild(
      spawn(
        process.execPath,
        [
          path.join(here, "loadGenerator.ts"),
          "--target",
          server.target,
          "--kind",
          run.kind,
          "--concurrency",
          String(run.concurrency),
          "--duration-ms",
          String(run.durationMillis),
          "--warmup-ms",
          String(run.warmupMillis),
          "--channels",
          String(run.channels),
          "--server-pid",
          String(server.pid),
          ...(run.sampleRss ? ["--sample-rss"] : []),
          ...(run.plaintextBytes === undefined ? [] : ["--plaintext-bytes", String(run.plaintextBytes)]),
          ...(run.deadlineMillis === undefined ? [] : ["--deadline-ms", String(run.deadlineMillis)]),
          ...(run.warmupCalls === undefined ? [] : ["--warmup-calls", String(run.warmupCalls)])
        ],
        { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] }
      )
    )
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("exit", (code, signal) => {
      if (code !== 0) {
        const why = stderr.trim().split("\n").slice(0, 3).join(" / ") || `exit ${code ?? signal}`
        return resolve(failedRun(run.kind, run.concurrency, `load generator failed: ${why}`))
      }
      try {
        resolve(decodeLoadResult(stdout))
      } catch (error) {
        resolve(failedRun(run.kind, run.concurrency, `unreadable load result: ${String(error)}`))
      }
    })
  })
