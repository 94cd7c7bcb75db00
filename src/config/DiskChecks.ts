import * as path from "node:path"
import type { FlagProblem } from "./ConfigError.ts"
import type { PluginConfigShape } from "./ConfigShape.ts"
import { directoryProblem } from "./DirectoryTrust.ts"
import { existingFileProblem } from "./OperatorFile.ts"
import { socketDirectoryProblem } from "./SocketPath.ts"

// What PluginConfig.load checks on disk once the flags parse: the paths the
// operator gave, as they are now. Only stats, never a read: a FIFO given as
// a file cannot hang the start. The files are checked again when they are
// read (see OperatorFile.ts).

const keyFileProblem = (file: string): string | undefined => {
  const dirProblem = directoryProblem(path.dirname(path.resolve(file)), "the key file", "create it")
  if (dirProblem !== undefined) return dirProblem
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
