import * as fs from "node:fs"
import * as net from "node:net"
import * as Effect from "effect/Effect"
import { ConfigError } from "../config/ConfigError.ts"
import { isAbstractSocket } from "../config/SocketPath.ts"
import { StartupError } from "../runtime/StartupError.ts"

// The socket file's lifecycle. "Stale" means nobody answers on it: a live
// plugin owns the path and is left alone; any other kind of file is never
// touched. The socket is created with its final mode (umask held around the
// bind), so there is no moment where it is wider than asked.

const answers = (socketPath: string): Promise<boolean> =>
  new Promise((resolve) => {
    const probe = net.connect({ path: socketPath })
    const done = (live: boolean) => {
      probe.destroy()
      resolve(live)
    }
    probe.setTimeout(1_000, () => done(true)) // something holds it open: treat as live
    probe.once("connect", () => done(true))
    // Only a refusal (or a socket gone meanwhile) means nobody is there. A live
    // server whose accept queue is full answers EAGAIN, one we may not talk to
    // EACCES: both are someone's socket, never to be removed.
    probe.once("error", (error: NodeJS.ErrnoException) => done(error.code !== "ECONNREFUSED" && error.code !== "ENOENT"))
  })

/** Makes the path free to bind: removes a stale socket, refuses anything else. */
export const claimSocketPath = (socketPath: string): Effect.Effect<void, ConfigError | StartupError> =>
  Effect.gen(function* () {
    if (isAbstractSocket(socketPath)) return
    const existing = yield* Effect.sync(() => fs.lstatSync(socketPath, { throwIfNoEntry: false }))
    if (existing === undefined) return
    if (!existing.isSocket()) {
      return yield* new ConfigError({
        problems: [{ flag: "path-to-unix-socket", message: `${socketPath} exists and is not a socket; refusing to touch it` }]
      })
    }
    if (yield* Effect.promise(() => answers(socketPath))) {
      return yield* new StartupError({
        message: `another process is serving on ${socketPath}; stop it first, or choose another --path-to-unix-socket`
      })
    }
    yield* Effect.logInfo(`removing stale socket ${socketPath} left by an earlier run`)
    yield* Effect.try({
      try: () => fs.rmSync(socketPath, { force: true }),
      catch: (error) => new StartupError({ message: `cannot remove stale socket ${socketPath}: ${String(error)}` })
    })
  })

/**
 * Runs `bind` with the umask that gives new sockets exactly `mode`. grpc-js
 * binds asynchronously, so the umask is held until its callback.
 */
export const withSocketUmask = <A, E>(mode: number, bind: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.sync(() => process.umask(~mode & 0o777)),
    () => bind,
    (previous) => Effect.sync(() => process.umask(previous))
  )

/** Identity of the socket we created, so we never remove someone else's. */
export interface OwnedSocket {
  readonly path: string
  readonly ino: number
  readonly dev: number
  /** Inode numbers are reused at once; with the birth time they name one file. */
  readonly birthtimeMs: number
}

export const ownSocket = (socketPath: string, mode: number): Effect.Effect<OwnedSocket | undefined, StartupError> =>
  Effect.try({
    try: () => {
      if (isAbstractSocket(socketPath)) return undefined
      const stat = fs.lstatSync(socketPath)
      if ((stat.mode & 0o777) !== mode) fs.chmodSync(socketPath, mode)
      return { path: socketPath, ino: stat.ino, dev: stat.dev, birthtimeMs: stat.birthtimeMs }
    },
    catch: (error) => new StartupError({ message: `socket ${socketPath} vanished after bind: ${String(error)}` })
  })

/** Removes the socket if it is still the one we created. Synchronous: also used on forced exit. */
export const removeOwnedSocket = (owned: OwnedSocket): void => {
  try {
    const stat = fs.lstatSync(owned.path, { throwIfNoEntry: false })
    const same = stat !== undefined && stat.ino === owned.ino && stat.dev === owned.dev && stat.birthtimeMs === owned.birthtimeMs
    if (same) fs.rmSync(owned.path, { force: true })
  } catch {
    // Nothing more to do on the way out.
  }
}
