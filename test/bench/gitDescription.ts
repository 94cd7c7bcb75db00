import { execFileSync } from "node:child_process"
import { projectRoot } from "../support/projectRoot.ts"

/** The short commit measured, with "+dirty" if the work tree has changes. */
export const gitDescription = (): string => {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: projectRoot, encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8" }).trim() !== ""
    return dirty ? `${commit}+dirty` : commit
  } catch {
    return "unknown"
  }
}
