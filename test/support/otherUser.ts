import { spawnSync } from "node:child_process"

// A process of another uid (65534, "nobody"), for what only ownership can
// show: the tests run as root.

export const nobody = 65534

/** Runs `script` (CommonJS) under node as uid/gid 65534 with `args` in process.argv[1..]; its stdout. */
export const runAsNobody = (script: string, ...args: ReadonlyArray<string>): string => {
  const result = spawnSync(process.execPath, ["-e", script, ...args], { uid: nobody, gid: nobody, encoding: "utf8" })
  if (result.status !== 0) throw new Error(`as uid ${nobody}: exit ${result.status}: ${result.stderr}`)
  return result.stdout
}
