import { randomBytes } from "node:crypto"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { httpLimits } from "../../src/health/GuardedHttpServer.ts"
import { run } from "../support/childProcess.ts"
import { get } from "../support/http.ts"
import { openFds, openFilesLimit } from "../support/procStats.ts"
import { mainScript, projectRoot } from "../support/projectRoot.ts"
import { tempDir } from "../support/tempDir.ts"

// Any process on the node can open connections to the health port (the
// static pod uses the host network). Thousands of idle or slow ones must not
// cost the plugin more than a bounded number of file descriptors, nor keep
// the KMS socket or /livez from answering; the ones it holds are closed once
// the header timeout passes. The plugin runs with a small open-files limit,
// so that without the cap the flood exhausts it.

const pluginFdLimit = 512
const wantedFlood = 3_000
const batch = 250
/** Descriptors a check may add for a moment (its client connection to the socket, both ends). */
const slack = 16

/** The real entrypoint under `ulimit -n`, serving; killed with the scope. */
const spawnWithFdLimit = (args: ReadonlyArray<string>, limit: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const plugin = run("/bin/sh", ["-c", `ulimit -n ${limit} && exec "$0" "$@"`, process.execPath, mainScript, ...args], {
        cwd: projectRoot
      })
      const line = await plugin.waitForLine(/health server on http:\/\/127\.0\.0\.1:\d+/)
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(line)?.[0] ?? ""
      return { plugin, url, pid: plugin.child.pid ?? 0 }
    }),
    ({ plugin }) =>
      Effect.promise(async () => {
        if (plugin.child.exitCode === null && plugin.child.signalCode === null) plugin.child.kill("SIGKILL")
        await plugin.exited.catch(() => undefined)
      })
  )

interface FloodSocket {
  readonly socket: net.Socket
  /** Settles once the connection is made (or refused, or closed). */
  readonly settled: Promise<void>
  readonly closed: Promise<void>
}

/** A connection that sends nothing, or (slow) the start of a request and then nothing. */
const floodSocket = (port: number, slow: boolean): FloodSocket => {
  const socket = net.connect(port, "127.0.0.1")
  socket.on("error", () => undefined)
  // Reads (and drops) what the plugin sends, a 408, so that its closing is seen.
  socket.resume()
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  const settled = new Promise<void>((resolve) => {
    socket.once("connect", () => {
      if (slow) socket.write("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
      resolve()
    })
    void closed.then(resolve)
  })
  return { socket, settled, closed }
}

describe("health port under a connection flood", () => {
  it.live(
    "thousands of idle and slow-header connections: fds stay bounded, Encrypt/Decrypt and /livez answer, the held ones close after the header timeout",
    () =>
      Effect.gen(function* () {
        const floodSize = Math.min(wantedFlood, openFilesLimit("self") - 500)
        assert.isAtLeast(floodSize, 2 * pluginFdLimit, "this test needs an open-files limit of a few thousand (ulimit -n)")
        const socketPath = path.join(yield* tempDir, "kms.sock")
        const { pid, url } = yield* spawnWithFdLimit(
          [
            "--kms-backend",
            "fake",
            "--healthz-port",
            "0",
            "--path-to-unix-socket",
            socketPath,
            "--fake-key-file",
            path.join(path.dirname(socketPath), "keys.json")
          ],
          pluginFdLimit
        )
        const port = Number(new URL(url).port)
        const baseline = openFds(pid)
        const bound = baseline + httpLimits.maxConnections + slack

        // Opened in batches (the listen backlog is finite); the plugin's fds sampled after each.
        const flood: Array<FloodSocket> = []
        let mostFds = baseline
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => {
            for (const { socket } of flood) socket.destroy()
          })
        )
        while (flood.length < floodSize) {
          const next = Array.from({ length: Math.min(batch, floodSize - flood.length) }, (_, i) =>
            floodSocket(port, (flood.length + i) % 3 === 0)
          )
          flood.push(...next)
          yield* Effect.promise(() => Promise.all(next.map((s) => s.settled)))
          mostFds = Math.max(mostFds, openFds(pid))
        }
        assert.isAtMost(mostFds, bound, `the plugin held ${mostFds} fds during the flood (baseline ${baseline})`)

        // The flood's connections still held: a new client (as the apiserver after a restart) and a probe get through.
        const client = yield* makePluginClient(`unix://${socketPath}`, { timeoutMillis: 5_000 })
        const seed = randomBytes(32)
        const encrypted = yield* client.v2Encrypt({ plaintext: seed, uid: "flood" })
        const decrypted = yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId, uid: "flood" })
        assert.deepStrictEqual(Buffer.from(decrypted.plaintext), seed)
        const livez = yield* Effect.promise(() => get(`${url}/livez`))
        assert.deepStrictEqual([livez.status, livez.body], [200, "ok"])
        assert.isAtMost(openFds(pid), bound)

        // Every flood connection is closed by the plugin: at once past the cap, the others at the header timeout.
        yield* Effect.promise(() => Promise.all(flood.map((s) => s.closed)))
        assert.isAtMost(openFds(pid), baseline + slack)
      }),
    { timeout: 30_000 }
  )
})
