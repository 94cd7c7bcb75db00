import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

const connectRefused = (socket: string) =>
  new Promise<boolean>((resolve) => {
    const probe = net.connect({ path: socket })
    probe.once("connect", () => {
      probe.destroy()
      resolve(false)
    })
    probe.once("error", () => resolve(true))
  })

/**
 * Starts `calls` slow Encrypts on one connection, then waits for a Status sent
 * after them: HTTP/2 keeps stream order, so once Status answers, the server
 * has every Encrypt in hand.
 */
const callsInFlight = (socket: string, calls: number) =>
  Effect.gen(function* () {
    const client = yield* makePluginClient(`unix://${socket}`, { timeoutMillis: 30_000 })
    const fibers = yield* Effect.forkChild(
      Effect.forEach(
        Array.from({ length: calls }, (_, i) => i),
        (i) => Effect.exit(client.v2Encrypt({ plaintext: Buffer.from(`seed-${i}`) })),
        { concurrency: "unbounded" }
      )
    )
    yield* client.v2Status
    return fibers
  })

describe("shutdown under load (the real entrypoint)", () => {
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it.live(`${signal} with 200 calls in flight: every call completes, new connections are refused, socket removed, exit 0`, () =>
      Effect.gen(function* () {
        const socket = path.join(yield* tempDir, "kms.sock")
        const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket, "--fake-latency", "700ms", "--log-format", "text"])
        const fibers = yield* callsInFlight(socket, 200)
        plugin.child.kill(signal)
        yield* Effect.promise(() => plugin.waitForLine(/shutting down/))
        assert.isTrue(yield* Effect.promise(() => connectRefused(socket)), "a new connection was accepted during the drain")
        const exits = yield* Fiber.join(fibers)
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 200)
        const exit = yield* Effect.promise(() => plugin.exited)
        assert.deepStrictEqual(exit, { code: 0, signal: null })
        assert.isFalse(fs.existsSync(socket))
      }).pipe(Effect.scoped)
    )
  }

  it.live("a second signal during the drain exits at once with code 1, socket still removed", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket, "--fake-latency", "20s", "--log-format", "text"])
      yield* callsInFlight(socket, 10)
      plugin.child.kill("SIGTERM")
      yield* Effect.promise(() => plugin.waitForLine(/shutting down/))
      plugin.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.deepStrictEqual(exit, { code: 1, signal: null })
      assert.isFalse(fs.existsSync(socket))
    }).pipe(Effect.scoped)
  )

  it.live("calls still running after the grace period are cut: exit 1, socket removed", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const plugin = yield* spawnPlugin([
        "--path-to-unix-socket",
        socket,
        "--fake-latency",
        "20s",
        "--shutdown-grace-period",
        "300ms",
        "--log-format",
        "text"
      ])
      const fibers = yield* callsInFlight(socket, 10)
      plugin.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.deepStrictEqual(exit, { code: 1, signal: null })
      assert.include(plugin.stderr(), "grace period exceeded")
      assert.isFalse(fs.existsSync(socket))
      const exits = yield* Fiber.join(fibers)
      assert.strictEqual(exits.filter(Exit.isSuccess).length, 0)
    }).pipe(Effect.scoped)
  )
})
