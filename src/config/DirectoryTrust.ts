import * as fs from "node:fs"

// Who else can replace what the plugin keeps in a directory (its socket, the
// fake backend's key file). Whoever can write a directory can unlink any
// entry in it and put their own in its place: a socket of their own that the
// apiserver would send its plaintext seeds to, or keys of their choosing. The
// sticky bit (as on /tmp) limits that to each entry's owner and the
// directory's owner. A group that can write the directory is trusted like its
// owner: granting that is the operator's deliberate choice.

const sticky = 0o1000
const writableByOthers = 0o002

/** Why users other than this process's (and root) could replace `what` in `dir`, or undefined when they cannot. */
export const othersCanReplaceIn = (dir: string, stat: fs.Stats, what: string): string | undefined => {
  const uid = process.getuid?.()
  if (uid === undefined) return undefined
  if (stat.uid !== uid && stat.uid !== 0) {
    return `${dir} belongs to uid ${stat.uid}, who could replace ${what} in it; use a directory owned by root or by this process's uid (${uid})`
  }
  if ((stat.mode & writableByOthers) !== 0 && (stat.mode & sticky) === 0) {
    return (
      `${dir} can be written by every user and has no sticky bit, so any of them could replace ${what} in it; ` +
      `chmod o-w ${dir} (or chmod +t ${dir}, as on /tmp)`
    )
  }
  return undefined
}

/**
 * Why this process cannot safely create `what` in `dir`: it is missing (then
 * `missing` says what to do), not a directory, others could replace `what`
 * in it, or this process cannot write it. Undefined when it can.
 */
export const directoryProblem = (dir: string, what: string, missing: string): string | undefined => {
  let stat: fs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    return `directory ${dir} does not exist; ${missing}`
  }
  if (!stat.isDirectory()) return `${dir} is not a directory`
  const replaceable = othersCanReplaceIn(dir, stat, what)
  if (replaceable !== undefined) return replaceable
  try {
    fs.accessSync(dir, fs.constants.W_OK | fs.constants.X_OK)
  } catch {
    return `this process (uid ${process.getuid?.() ?? "?"}) cannot create files in ${dir}; make it writable, or run as its owner`
  }
  return undefined
}
