import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"
import type { V1beta1 } from "../../src/grpc/messages.ts"
import { bindSocket, targetOf } from "../../src/grpc/SocketBinding.ts"
import { abstractAnswers, abstractName } from "../support/abstractSocket.ts"
import { tempDir } from "../support/tempDir.ts"

// Where the server listens: a socket file, or a Linux abstract socket "@name"
// (no file; connections handed to grpc-js through its injector).

// The plugin silences grpc-js's own stderr lines (GrpcServer.layer); so do these bare servers.
grpc.setLogVerbosity(grpc.logVerbosity.NONE)

const version: grpc.handleUnaryCall<V1beta1.VersionRequest, V1beta1.VersionResponse> = (_call, callback) =>
  callback(null, { version: "v1beta1", runtimeName: "binding-test", runtimeVersion: "0" })

/** A grpc-js server answering v1beta1 Version, shut down with the scope. */
const server = Effect.acquireRelease(
  Effect.sync(() => {
    const s = new grpc.Server()
    s.addService(kmsServices().v1beta1, { Version: version })
    return s
  }),
  (s) => Effect.sync(() => s.forceShutdown())
)

describe("socket binding", () => {
  it("targets: an abstract name keeps its name after a NUL; a file path is made absolute", () => {
    assert.strictEqual(targetOf("@kms"), "unix:\u0000kms")
    assert.strictEqual(targetOf("/run/kms.sock"), "unix:///run/kms.sock")
    assert.strictEqual(targetOf("kms.sock"), `unix://${path.resolve("kms.sock")}`)
  })

  it.live("an abstract socket serves gRPC, is shown as abstract, leaves no file, and stops accepting when asked", () =>
    Effect.gen(function* () {
      const name = abstractName("test")
      const binding = yield* bindSocket(yield* server, name, 0o600)
      assert.strictEqual(binding.target, `unix:\u0000${name.slice(1)}`)
      assert.strictEqual(binding.display, `unix:${name} (abstract)`)
      assert.isFalse(fs.existsSync(name))
      const client = yield* makePluginClient(binding.target, { timeoutMillis: 10_000 })
      assert.strictEqual((yield* client.v1Version).runtimeName, "binding-test")
      binding.cleanUp()
      assert.strictEqual(yield* abstractAnswers(name), "connected")
      binding.stopAccepting()
      assert.strictEqual(yield* abstractAnswers(name), "ECONNREFUSED")
    }).pipe(Effect.scoped)
  )

  it.live("an abstract name already in use is refused with the operator's two ways out", () =>
    Effect.gen(function* () {
      const name = abstractName("test")
      const first = yield* bindSocket(yield* server, name, 0o600)
      const refused = yield* Effect.flip(bindSocket(yield* server, name, 0o600))
      assert.strictEqual(refused._tag, "StartupError")
      assert.strictEqual(refused.message, `another process is serving on ${name}; stop it first, or choose another --path-to-unix-socket`)
      first.stopAccepting()
    }).pipe(Effect.scoped)
  )

  it.live("any other listen error names the socket and the system's reason", () =>
    Effect.gen(function* () {
      // Longer than a sockaddr_un can hold: the kernel says EINVAL.
      const name = `@${"x".repeat(200)}`
      const refused = yield* Effect.flip(bindSocket(yield* server, name, 0o600))
      assert.strictEqual(refused._tag, "StartupError")
      assert.match(refused.message, /^cannot serve on @x{200}: listen EINVAL/)
    }).pipe(Effect.scoped)
  )

  it.live("a socket file is born with its mode, is shown with it, and clean-up removes it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socketPath = path.join(dir, "kms.sock")
      const binding = yield* bindSocket(yield* server, socketPath, 0o640)
      assert.strictEqual(binding.display, `unix://${socketPath} (mode 0640)`)
      assert.strictEqual(fs.lstatSync(socketPath).mode & 0o777, 0o640)
      const client = yield* makePluginClient(binding.target, { timeoutMillis: 10_000 })
      assert.strictEqual((yield* client.v1Version).runtimeName, "binding-test")
      binding.stopAccepting()
      binding.cleanUp()
      assert.isFalse(fs.existsSync(socketPath))
    }).pipe(Effect.scoped)
  )

  it.live("a socket file that grpc-js cannot bind is refused, naming the path and grpc-js's reason", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socketPath = path.join(dir, "missing", "kms.sock")
      const refused = yield* Effect.flip(bindSocket(yield* server, socketPath, 0o600))
      assert.strictEqual(refused._tag, "StartupError")
      assert.isTrue(refused.message.startsWith(`cannot serve on ${socketPath}: `), refused.message)
      assert.isAbove(refused.message.length, `cannot serve on ${socketPath}: `.length)
    }).pipe(Effect.scoped)
  )
})
