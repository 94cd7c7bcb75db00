import * as fs from "node:fs"
import * as path from "node:path"
import type { FlagProblem } from "./ConfigError.ts"
import type { PluginConfigShape } from "./ConfigShape.ts"
import { othersCanReplaceIn } from "./DirectoryTrust.ts"
import { existingFileProblem } from "./OperatorFile.ts"
import { socketDirectoryProblem } from "./SocketPath.ts"

// What PluginConfig.load checks on disk once the flags parse: the paths the
// operator gave, as they are now. Only stats, never a read: a FIFO given as
// a file cannot hang the start. The files are checked again when they are
// read (see OperatorFile.ts).

const keyFileProblem = (file: string): string | undefined => {
  const dir = path.dirname(path.resolve(file))
  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    return `directory ${dir} does not exist; create it`
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`
  const replaceable = othersCanReplaceIn(dir, stat, "the key file")
  if (replaceable !== undefined) return replaceable
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
  } catch {
    return `this process (uid ${process.getuid?.() ?? "?"}) cannot create files in ${dir}; make it writable, or run as its owner`
  }
  // Not there yet is fine: the fake backend creates it.
  return existingFileProblem(file, { private: true })
}

/** Every problem of the paths in `config`, each naming its flag; empty when there is none. */
export const diskProblems = (config: PluginConfigShape): ReadonlyArray<FlagProblem> => {
  const problems: Array<FlagProblem> = []
  const check = (flag: string, problem: string | undefined) => {
    if (problem !== undefined) problems.push({ flag, message: problem })
  }
  check("path-to-unix-socket", socketDirectoryProblem(config.socketPath))
  // Each file only where its backend reads it.
  if (config.backend === "fake" && config.fakeKeyFile !== undefined) check("fake-key-file", keyFileProblem(config.fakeKeyFile))
  if (config.backend === "cloud" && config.gceConfig !== undefined) {
    check("gce-config", existingFileProblem(config.gceConfig, { private: false }))
  }
  return problems
}
