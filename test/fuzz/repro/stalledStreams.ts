// Reproducer (not a test): memory held by calls stalled in the middle of a
// message grows without bound, because the server sets no
// grpc.max_concurrent_streams and a call without a deadline waits forever for
// the rest of its message. Run with Node 24 from the project root:
//
//   node test/fuzz/repro/stalledStreams.ts [streams per connection = 1000] [connections = 2]
//
// It starts the real entrypoint (fake backend), opens the connections, and on
// each starts that many v2 Encrypt calls that send a length prefix announcing
// 73000 bytes (under the 73728-byte limit) and then 72000 of them, and stop.
// Prints the plugin's RSS before and after; a fresh Status still works.

import * as fs from "node:fs"
import * as http2 from "node:http2"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { rssKiB } from "../../support/procStats.ts"
import { spawnCli } from "../../support/spawnPlugin.ts"
import { freshStatus } from "../support/spawned.ts"

const streams = Number(process.argv[2] ?? 1000)
const connections = Number(process.argv[3] ?? 2)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-"))
const socketPath = path.join(dir, "kms.sock")
const plugin = spawnCli(["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socketPath])
await plugin.waitForLine(/serving KMS/)
const pid = plugin.child.pid as number
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`
console.log(`plugin RSS at start: ${mib(rssKiB(pid))}`)

const sessions: Array<http2.ClientHttp2Session> = []
for (let c = 0; c < connections; c++) {
  const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) })
  session.on("error", () => {})
  sessions.push(session)
  await Promise.all(
    Array.from(
      { length: streams },
      () =>
        new Promise<void>((written) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/v2.KeyManagementService/Encrypt",
            "content-type": "application/grpc",
            te: "trailers"
          })
          stream.on("error", () => {})
          const prefix = Buffer.alloc(5)
          prefix.writeUInt32BE(73000, 1)
          stream.write(prefix)
          stream.write(Buffer.alloc(72000, 1), () => written())
        })
    )
  )
  console.log(`after ${streams} stalled calls on connection ${c + 1}: plugin RSS ${mib(rssKiB(pid))}`)
}
const status = await freshStatus(`unix://${socketPath}`)
console.log(`fresh Status: code ${status.code}, healthz ${status.healthz}`)
for (const session of sessions) session.destroy()
plugin.child.kill("SIGTERM")
await plugin.exited
fs.rmSync(dir, { recursive: true, force: true })
