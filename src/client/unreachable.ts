// A call that never reached a server, said in plain words instead of
// grpc-js's "No connection established. Last error: … Resolution note: …".

const reasons: ReadonlyArray<readonly [code: string, say: (socket: string) => string]> = [
  ["ENOENT", (socket) => `no socket at ${socket} (ENOENT)`],
  ["ECONNREFUSED", (socket) => `connection refused at ${socket}: nothing serves it (ECONNREFUSED)`],
  ["EACCES", (socket) => `permission denied on ${socket}: run as the socket's owner (EACCES)`],
  ["ENOTSOCK", (socket) => `${socket} is not a socket (ENOTSOCK)`]
]

/** The socket as the operator named it: a path, or @name for an abstract socket. */
const socketOf = (target: string): string =>
  target.startsWith("unix://") ? target.slice("unix://".length) : target.startsWith("unix:\u0000") ? `@${target.slice(6)}` : target

/** Why a connection to `target` failed, if grpc-js's details say it did (`connect ENOENT …`); else undefined. */
export const unreachableReason = (details: string, target: string): string | undefined => {
  const found = reasons.find(([code]) => details.includes(`connect ${code}`))
  return found === undefined ? undefined : found[1](socketOf(target))
}
