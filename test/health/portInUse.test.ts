import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnCli } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// A health or metrics port that another process holds: the plugin stops at
// start (exit 1) with one line naming the flag that chose the port, the
// address and the reason, and leaves no socket behind.

/** A TCP port on 127.0.0.1 held by this test until the scope closes. */
const heldPort = Effect.acquireRelease(
  Effect.callback<net.Server>((resume) => {
    const server = net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
).pipe(
  Effect.map((server) => {
    const address = server.address()
    if (address === null || typeof address === "string") throw new Error("no TCP address")
    return address.port
  })
)

const startOn = (ports: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const socket = path.join(yield* tempDir, "kms.sock")
    const plugin = spawnCli(["--kms-backend", "fake", "--path-to-unix-socket", socket, ...ports])
    const exit = yield* Effect.promise(() => plugin.exited)
    // Everything else on stderr is a JSON log record.
    const plain = plugin
      .stderr()
      .trim()
      .split("\n")
      .filter((line) => !line.startsWith("{"))
    return { code: exit.code, plain, socketLeft: fs.existsSync(socket) }
  })

describe("a port in use", () => {
  it.live("--healthz-port: exit 1, one line naming the flag and the address", () =>
    Effect.gen(function* () {
      const port = yield* heldPort
      const result = yield* startOn(["--healthz-port", String(port)])
      assert.deepStrictEqual(result, {
        code: 1,
        plain: [
          `k8s-cloudkms-plugin: cannot start: --healthz-port ${port}: cannot listen on 127.0.0.1:${port}: ` +
            "the port is already in use by another process (EADDRINUSE)"
        ],
        socketLeft: false
      })
    })
  )

  it.live("--metrics-port: exit 1, one line naming the flag and --metrics-bind-address's address", () =>
    Effect.gen(function* () {
      const port = yield* heldPort
      const result = yield* startOn(["--healthz-port", "0", "--metrics-port", String(port), "--metrics-bind-address", "127.0.0.1"])
      assert.deepStrictEqual(result, {
        code: 1,
        plain: [
          `k8s-cloudkms-plugin: cannot start: --metrics-port ${port}: cannot listen on 127.0.0.1:${port}: ` +
            "the port is already in use by another process (EADDRINUSE)"
        ],
        socketLeft: false
      })
    })
  )
})
