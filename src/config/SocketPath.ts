import * as fs from "node:fs"
import * as path from "node:path"
import { directoryProblem } from "./DirectoryTrust.ts"

// --path-to-unix-socket: a file path, or "@name" for a Linux abstract socket
// (no file, scoped by network namespace). What config can check before
// anything is started: that the path names a file, and the directory that
// will hold the socket.

export const isAbstractSocket = (socketPath: string): boolean => socketPath.startsWith("@")

/** Why a socket file path names a directory instead of a file (ends in '/', '.' or '..'), or undefined. Pure. */
export const socketFileNameProblem = (socketPath: string): string | undefined => {
  if (isAbstractSocket(socketPath)) return undefined
  const last = socketPath.split("/").at(-1)
  if (last === "") return `must name the socket file, not a directory: ${JSON.stringify(socketPath)} ends in '/'`
  if (last === "." || last === "..") return `must name the socket file, not a directory: ${JSON.stringify(socketPath)} ends in '${last}'`
  return undefined
}

/** Why the socket's directory cannot hold it (or the path is taken by a directory), or undefined when it can. */
export const socketDirectoryProblem = (socketPath: string): string | undefined => {
  if (isAbstractSocket(socketPath)) return undefined
  const resolved = path.resolve(socketPath)
  const dirProblem = directoryProblem(path.dirname(resolved), "the socket", "create it (the apiserver must see the same directory)")
  if (dirProblem !== undefined) return dirProblem
  if (fs.lstatSync(resolved, { throwIfNoEntry: false })?.isDirectory() === true) {
    return `${socketPath} is a directory; name the socket file in it, e.g. ${path.join(socketPath, "kms.sock")}`
  }
  return undefined
}
