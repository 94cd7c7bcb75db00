import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { type FakeCloudKms, startFakeCloudKms } from "../fakes/FakeCloudKms.ts"
import { spawnPlugin } from "./pluginProcess.ts"
import { makeSoakClient, type SoakClient } from "./soakClient.ts"
import { codeName } from "./stats.ts"

// Reproducers for late answers (node test/soak/lateAnswerRepro.ts). The
// design: "the answer reaches the caller before its deadline, with the last
// error's code (e.g. UNAVAILABLE), not a late DEADLINE_EXCEEDED". Each
// scenario runs a fresh plugin (src/main.ts, CloudKms backend) against a
// fake Cloud KMS and prints what the caller saw; LATE marks a violation.
//
// 1. arrival pause: Cloud KMS hangs, and the plugin process is not scheduled
//    for a moment right when the call arrives (SIGSTOP/SIGCONT, standing in
//    for a starved CPU or a GC pause). The plugin takes the deadline from the
//    grpc-timeout header when it reads the call, so the pause is not counted
//    and only the 100 ms answer margin is left.
// 2. single-flight joiner: a Decrypt with a 1 s deadline joins an identical
//    Decrypt in flight for a caller with a 10 s deadline. The flight retries
//    on the first caller's deadline; the joiner waits past its own.
// 3. slow key check after FAILED_PRECONDITION: Encrypt finds the pinned
//    version disabled and calls refreshNow, which is not bounded by the
//    caller's deadline (GetCryptoKey takes 5 s here).

const keyUri = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

interface Harness {
  readonly fake: FakeCloudKms
  readonly pid: number
  readonly client: (deadlineMillis: number) => SoakClient
}

const withPlugin = async (extraArgs: ReadonlyArray<string>, run: (harness: Harness) => Promise<void>) => {
  const fake = await startFakeCloudKms({ keys: [keyUri] })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kms-late-"))
  const socket = path.join(dir, "kms.sock")
  const plugin = spawnPlugin(
    [
      "--kms-backend",
      "cloud",
      "--key-uri",
      keyUri,
      "--kms-endpoint",
      fake.address,
      "--kms-insecure",
      "--path-to-unix-socket",
      socket,
      "--healthz-port",
      "0",
      ...extraArgs
    ],
    { built: false }
  )
  const clients: Array<SoakClient> = []
  try {
    await plugin.waitForLine(/serving KMS/)
    await run({
      fake,
      pid: plugin.pid,
      client: (deadlineMillis) => {
        const client = makeSoakClient(`unix://${socket}`, deadlineMillis)
        clients.push(client)
        return client
      }
    })
  } finally {
    for (const client of clients) client.close()
    await plugin.stop(5_000)
    await fake.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const report = (
  label: string,
  deadlineMillis: number,
  answer: { readonly code: number; readonly elapsedMillis: number; readonly details: string }
) => {
  const late = answer.elapsedMillis > deadlineMillis || codeName(answer.code) === "DEADLINE_EXCEEDED"
  process.stdout.write(
    `  ${label}: ${codeName(answer.code)} after ${answer.elapsedMillis.toFixed(0)} ms (deadline ${deadlineMillis} ms)${late ? "  <-- LATE" : ""}\n` +
      `      ${answer.details.slice(0, 140)}\n`
  )
}

const arrivalPause = () =>
  withPlugin([], async ({ fake, pid, client }) => {
    process.stdout.write("1. Cloud KMS hangs; the plugin is paused as the call arrives\n")
    const caller = client(3_000)
    fake.inject({ fault: { kind: "hang" }, method: "Encrypt" })
    for (const pauseMillis of [0, 50, 150, 300]) {
      const answer = caller.call("v2.Encrypt", { plaintext: Buffer.from("x"), uid: `pause-${pauseMillis}` })
      if (pauseMillis > 0) {
        process.kill(pid, "SIGSTOP")
        // The pause is the injected fault, not a wait for something.
        setTimeout(() => process.kill(pid, "SIGCONT"), pauseMillis)
      }
      report(`pause ${pauseMillis} ms`, 3_000, await answer)
    }
  })

const singleFlightJoiner = () =>
  withPlugin(["--key-refresh-interval", "1m"], async ({ fake, client }) => {
    process.stdout.write("2. a 1 s Decrypt joins an identical 10 s Decrypt in flight; Cloud KMS hangs\n")
    const encrypted = await client(3_000).call("v2.Encrypt", { plaintext: Buffer.from("joined"), uid: "e" })
    const request = { ciphertext: encrypted.response?.["ciphertext"], keyId: encrypted.response?.["keyId"], annotations: {} }
    fake.inject({ fault: { kind: "hang" }, method: "Decrypt" })
    const arrived = new Promise((resolve) => fake.events.once("call", resolve))
    const first = client(10_000).call("v2.Decrypt", { ...request, uid: "first" })
    await arrived
    report("joiner (1 s)", 1_000, await client(1_000).call("v2.Decrypt", { ...request, uid: "joiner" }))
    report("first (10 s)", 10_000, await first)
  })

const slowKeyCheck = () =>
  withPlugin(["--key-refresh-interval", "1m"], async ({ fake, client }) => {
    process.stdout.write("3. the pinned version is disabled and GetCryptoKey takes 5 s\n")
    fake.rotate(keyUri)
    fake.setVersionState(keyUri, 1, "DISABLED")
    fake.setLatency({ millis: 5_000 }, "GetCryptoKey")
    report("Encrypt", 3_000, await client(3_000).call("v2.Encrypt", { plaintext: Buffer.from("x"), uid: "e" }))
  })

const main = async () => {
  await arrivalPause()
  await singleFlightJoiner()
  await slowKeyCheck()
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
