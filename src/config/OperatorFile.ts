import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

// The files an operator names (--gce-config, --fake-key-file): what they must
// be, and the one way they are read. Anything but a regular file (a FIFO, a
// socket, a device) could block a read for ever, so it is refused: at config
// time by its stat, and again on the open descriptor, which is opened
// non-blocking so a file swapped for a FIFO in between cannot hang the open.
// The read itself runs off the event loop and is interruptible, so a SIGTERM
// during start-up still stops the plugin.

/** A file the plugin cannot use, and why (the message names the file). */
export class UnusableFile extends Data.TaggedError("UnusableFile")<{
  readonly message: string
  /** Nothing exists at the path. */
  readonly missing: boolean
}> {}

export interface FileRules {
  /** It holds key material: no symbolic link, owned by this process's uid, writable by nobody else. */
  readonly private: boolean
}

/** The longest a read may take: a regular file answers at once, anything slower is not the file we expect. */
const readTimeoutMillis = 10_000

const kindOf = (stat: fs.Stats): string =>
  stat.isDirectory()
    ? "a directory"
    : stat.isFIFO()
      ? "a FIFO (named pipe)"
      : stat.isSocket()
        ? "a socket"
        : stat.isCharacterDevice() || stat.isBlockDevice()
          ? "a device"
          : stat.isSymbolicLink()
            ? "a symbolic link"
            : "a special file"

const symlinkProblem = (file: string) => `${file} is a symbolic link; give the path of the file itself`

/** Why a file with this stat cannot be used under `rules`, or undefined when it can. */
export const statProblem = (file: string, stat: fs.Stats, rules: FileRules): string | undefined => {
  if (rules.private && stat.isSymbolicLink()) return symlinkProblem(file)
  if (!stat.isFile()) return `${file} is ${kindOf(stat)}, not a regular file`
  if (!rules.private) return undefined
  const uid = process.getuid?.()
  if (uid !== undefined && stat.uid !== uid) {
    return `${file} belongs to uid ${stat.uid}, not to this process's uid (${uid}); it holds keys: only its owner may have it`
  }
  if ((stat.mode & 0o022) !== 0) {
    return `${file} can be written by other users (mode 0${(stat.mode & 0o777).toString(8)}); chmod go-w ${file}`
  }
  return undefined
}

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))
const codeOf = (error: unknown): unknown => (error instanceof Error && "code" in error ? error.code : undefined)

/** Config time: why `file` cannot be used, or undefined when it can or does not exist yet. Never opens it. */
export const existingFileProblem = (file: string, rules: FileRules): string | undefined => {
  try {
    const stat = rules.private ? fs.lstatSync(file, { throwIfNoEntry: false }) : fs.statSync(file, { throwIfNoEntry: false })
    return stat === undefined ? undefined : statProblem(file, stat, rules)
  } catch (error) {
    return `cannot read ${file}: ${messageOf(error)}`
  }
}

/**
 * Reads an opened file to its end. Interruptible even while the kernel read
 * blocks: the fiber moves on at once and the read is abandoned.
 */
export const readOpenedFile = (handle: fsp.FileHandle, file: string): Effect.Effect<string, UnusableFile> =>
  Effect.tryPromise({
    try: (signal) => handle.readFile({ encoding: "utf8", signal }),
    catch: (error) => new UnusableFile({ message: `cannot read ${file}: ${messageOf(error)}`, missing: false })
  })

const open = (file: string, rules: FileRules): Effect.Effect<fsp.FileHandle, UnusableFile> =>
  Effect.tryPromise({
    try: () => fsp.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | (rules.private ? fs.constants.O_NOFOLLOW : 0)),
    catch: (error) =>
      new UnusableFile({
        message: rules.private && codeOf(error) === "ELOOP" ? symlinkProblem(file) : `cannot read ${file}: ${messageOf(error)}`,
        missing: codeOf(error) === "ENOENT"
      })
  })

/** The text of `file`, checked against `rules` on the descriptor that is read (no window for a swap). */
export const readOperatorFile = (file: string, rules: FileRules): Effect.Effect<string, UnusableFile> =>
  Effect.acquireUseRelease(
    open(file, rules),
    (handle) =>
      Effect.gen(function* () {
        const stat = yield* Effect.tryPromise({
          try: () => handle.stat(),
          catch: (error) => new UnusableFile({ message: `cannot read ${file}: ${messageOf(error)}`, missing: false })
        })
        const problem = statProblem(file, stat, rules)
        if (problem !== undefined) return yield* new UnusableFile({ message: problem, missing: false })
        return yield* readOpenedFile(handle, file)
      }),
    // Not awaited: closing waits for an abandoned read, which must not hold up the interruption.
    (handle) => Effect.sync(() => void handle.close().catch(() => undefined))
  ).pipe(
    Effect.timeoutOrElse({
      duration: readTimeoutMillis,
      orElse: () =>
        Effect.fail(new UnusableFile({ message: `cannot read ${file}: no answer within ${readTimeoutMillis / 1000}s`, missing: false }))
    })
  )
