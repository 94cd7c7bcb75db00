import * as fs from "node:fs"
import * as path from "node:path"
import { othersCanReplaceIn } from "./DirectoryTrust.ts"

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
  const dir = path.dirname(resolved)
  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    return `directory ${dir} does not exist; create it (the apiserver must see the same directory)`
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`
  const replaceable = othersCanReplaceIn(dir, stat, "the socket")
  if (replaceable !== undefined) return replaceable
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
  } catch {
    return `this process (uid ${process.getuid?.() ?? "?"}) cannot create files in ${dir}; make it writable, or run as its owner`
  }
  if (fs.lstatSync(resolved, { throwIfNoEntry: false })?.isDirectory() === true) {
    return `${socketPath} is a directory; name the socket file in it, e.g. ${path.join(socketPath, "kms.sock")}`
  }
  return undefined
}
