import * as net from "node:net"
import * as path from "node:path"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import type { ConfigError } from "../config/ConfigError.ts"
import { isAbstractSocket } from "../config/SocketPath.ts"
import { StartupError } from "../runtime/StartupError.ts"
import { claimSocketPath, ownSocket, removeOwnedSocket, withSocketUmask } from "./UnixSocket.ts"

// Where the gRPC server listens: a socket file (grpc-js binds it, with the
// umask held so it is born with its final mode), or a Linux abstract socket
// "@name". grpc-js cannot bind the abstract namespace itself (its unix
// resolver passes the path through, and "@" is not special to Node), so for
// "@name" we listen on "\0name" with node:net and hand every connection to
// grpc-js through its connection injector. Abstract sockets have no file:
// nothing to claim, chmod or remove, and no file mode to protect them.

export interface SocketBinding {
  /** grpc-js target for clients of this socket. */
  readonly target: string
  /** How the socket is shown in logs and to operators. */
  readonly display: string
  /** Stops taking new connections (grpc-js's own listener closes in tryShutdown). */
  readonly stopAccepting: () => void
  /** Removes what the socket left behind, if it is still ours; synchronous, also run on a forced exit. */
  readonly cleanUp: () => void
}

export const targetOf = (socketPath: string): string =>
  isAbstractSocket(socketPath) ? `unix:\u0000${socketPath.slice(1)}` : `unix://${path.resolve(socketPath)}`

const bindFile = (server: grpc.Server, socketPath: string, mode: number): Effect.Effect<SocketBinding, ConfigError | StartupError> =>
  Effect.gen(function* () {
    yield* claimSocketPath(socketPath)
    const target = targetOf(socketPath)
    yield* withSocketUmask(
      mode,
      Effect.callback<void, StartupError>((resume) => {
        server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (error) => {
          resume(
            error === null ? Effect.void : Effect.fail(new StartupError({ message: `cannot serve on ${socketPath}: ${error.message}` }))
          )
        })
      })
    )
    const owned = yield* ownSocket(socketPath, mode)
    return {
      target,
      display: `${target} (mode 0${mode.toString(8)})`,
      stopAccepting: () => {},
      cleanUp: () => {
        if (owned !== undefined) removeOwnedSocket(owned)
      }
    }
  })

const bindAbstract = (server: grpc.Server, socketPath: string): Effect.Effect<SocketBinding, StartupError> =>
  Effect.callback<SocketBinding, StartupError>((resume) => {
    const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure())
    const listener = net.createServer((connection) => injector.injectConnection(connection))
    listener.once("error", (error) => {
      const why =
        "code" in error && error.code === "EADDRINUSE"
          ? `another process is serving on ${socketPath}; stop it first, or choose another --path-to-unix-socket`
          : `cannot serve on ${socketPath}: ${error.message}`
      resume(Effect.fail(new StartupError({ message: why })))
    })
    listener.listen(`\u0000${socketPath.slice(1)}`, () => {
      resume(
        Effect.succeed({
          target: targetOf(socketPath),
          display: `unix:${socketPath} (abstract)`,
          stopAccepting: () => void listener.close(),
          cleanUp: () => {}
        })
      )
    })
  })

export const bindSocket = (
  server: grpc.Server,
  socketPath: string,
  mode: number
): Effect.Effect<SocketBinding, ConfigError | StartupError> =>
  isAbstractSocket(socketPath) ? bindAbstract(server, socketPath) : bindFile(server, socketPath, mode)
