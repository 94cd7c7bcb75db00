import * as http from "node:http"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as NodeWarnings from "../../src/logging/NodeWarnings.ts"
import { kill } from "../support/childProcess.ts"
import { logRecords } from "../support/logRecords.ts"
import { spawnCli } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// Node's process warnings reach the log as records of the plugin's own
// logger, never as Node's `(node:123) SomeWarning: …` line, which breaks a
// parser that expects one JSON object per line.

interface Seen {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

describe("Node process warnings", () => {
  it.live("are logged at warn with their name and code while the layer lives; Node's own printer is back after", () =>
    Effect.gen(function* () {
      const before = process.listeners("warning")
      const seen = yield* Deferred.make<Seen>()
      const capture = Logger.make((options) => {
        Deferred.doneUnsafe(
          seen,
          Effect.succeed({
            level: options.logLevel,
            message: String(options.message),
            annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
          })
        )
      })
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Layer.build(NodeWarnings.layer.pipe(Layer.provide(Logger.layer([capture]))))
          // Only the layer listens now: Node prints nothing itself.
          assert.lengthOf(process.listeners("warning"), 1)
          assert.notInclude(before, process.listeners("warning")[0])
          process.emitWarning("a test-only warning", { type: "TestWarning", code: "TEST001" })
          assert.deepStrictEqual(yield* Deferred.await(seen), {
            level: "Warn",
            message: "a test-only warning",
            annotations: { name: "TestWarning", code: "TEST001" }
          })
        })
      )
      assert.deepStrictEqual(process.listeners("warning"), before)
    })
  )

  it.live("a library's MetadataLookupWarning (Application Default Credentials, a metadata server that is not one) is a JSON record", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // A "metadata server" on loopback without the Metadata-Flavor header: gcp-metadata warns about it.
      const notMetadata = yield* Effect.acquireRelease(
        Effect.callback<http.Server>((resume) => {
          const server = http.createServer((_, response) => void response.writeHead(200, { "content-type": "text/plain" }).end("hello"))
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
        }),
        (server) =>
          Effect.callback<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const address = notMetadata.address()
      const port = address !== null && typeof address === "object" ? address.port : 0
      const plugin = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawnCli(
            [
              "--key-uri",
              "projects/p/locations/global/keyRings/r/cryptoKeys/k",
              // TLS, so credentials are looked up; nothing answers gRPC there (loopback only).
              "--kms-endpoint",
              `127.0.0.1:${port}`,
              "--kms-max-attempts",
              "1",
              "--healthz-port",
              "0",
              "--path-to-unix-socket",
              path.join(dir, "kms.sock")
            ],
            {
              GCE_METADATA_HOST: `127.0.0.1:${port}`,
              GCE_METADATA_IP: "",
              METADATA_SERVER_DETECTION: "",
              GOOGLE_APPLICATION_CREDENTIALS: "",
              HOME: dir,
              CLOUDSDK_CONFIG: dir
            }
          )
        ),
        (plugin) => Effect.promise(() => kill(plugin))
      )
      yield* Effect.promise(() => plugin.waitForLine(/MetadataLookupWarning/))
      yield* Effect.promise(() => plugin.waitForLine(/serving KMS/))
      const records = logRecords(plugin.stderr())
      const warnings = records.filter((r) => r["name"] === "MetadataLookupWarning")
      assert.lengthOf(warnings, 1)
      assert.strictEqual(warnings[0]?.level, "warn")
      assert.include(warnings[0]?.msg, "Metadata-Flavor")
      assert.notInclude(plugin.stderr(), "(node:")
    })
  )
})
