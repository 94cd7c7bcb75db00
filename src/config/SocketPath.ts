import * as fs from "node:fs"
import * as path from "node:path"

// --path-to-unix-socket: a file path, or "@name" for a Linux abstract socket
// (no file, scoped by network namespace). What config can check before
// anything is started: the directory that will hold the socket.

export const isAbstractSocket = (socketPath: string): boolean => socketPath.startsWith("@")

/** Why the socket's directory cannot hold it, or undefined when it can. */
export const socketDirectoryProblem = (socketPath: string): string | undefined => {
  if (isAbstractSocket(socketPath)) return undefined
  const dir = path.dirname(path.resolve(socketPath))
  try {
    if (!fs.statSync(dir).isDirectory()) return `${dir} is not a directory`
  } catch {
    return `directory ${dir} does not exist; create it (the apiserver must see the same directory)`
  }
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
  } catch {
    return `this process (uid ${process.getuid?.() ?? "?"}) cannot create files in ${dir}; make it writable, or run as its owner`
  }
  return undefined
}
