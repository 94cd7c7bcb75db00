import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

// The machine's own `node`, as a user's shell finds it: PATH without the
// node_modules/.bin folders that npm scripts (and so vitest and the bench)
// put first, where the project's pinned Node 24 is.

export const machinePath = (pathVariable: string = process.env["PATH"] ?? ""): string =>
  pathVariable
    .split(path.delimiter)
    .filter((dir) => dir !== "" && !dir.split(path.sep).includes("node_modules"))
    .join(path.delimiter)

/** The machine's node and its major version, or undefined if it has none. */
export const machineNode = (): { readonly path: string; readonly major: number } | undefined => {
  for (const dir of machinePath().split(path.delimiter)) {
    const candidate = path.join(dir, "node")
    if (!fs.existsSync(candidate)) continue
    const version = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim()
    return { path: candidate, major: Number(version.split(".")[0]) }
  }
  return undefined
}
