import { parseArgs } from "node:util"
import { parseDurationMillis } from "../../src/config/Duration.ts"
import { startFakeCloudKms } from "./FakeCloudKms.ts"

// Standalone fake Cloud KMS, e.g. to run the plugin in cloud mode locally:
//   node test/fakes/runFakeCloudKms.ts --port 8085 --key projects/p/locations/l/keyRings/r/cryptoKeys/k [--key …] [--latency 20ms] [--jitter 5ms] [--seed 1]
//     [--quota 100] [--no-test-iam-permissions]
// --quota N answers RESOURCE_EXHAUSTED to Encrypt and Decrypt calls beyond N
// in any second; --no-test-iam-permissions leaves TestIamPermissions
// UNIMPLEMENTED, as an emulator or a proxy may.
// Prints `fake cloud kms listening on 127.0.0.1:PORT` once bound (--port 0: an
// ephemeral port); SIGTERM or SIGINT stops it.

const usage =
  "usage: runFakeCloudKms.ts --key projects/P/locations/L/keyRings/R/cryptoKeys/K [--key …] [--port 8085] [--latency 20ms] [--jitter 5ms] [--seed 1] " +
  "[--quota N] [--no-test-iam-permissions]"

const fail = (message: string): never => {
  process.stderr.write(`${message}\n${usage}\n`)
  process.exit(2)
}

const millisOf = (flag: string, text: string | undefined): number => {
  if (text === undefined) return 0
  const millis = parseDurationMillis(text) ?? (/^\d+$/.test(text) ? Number(text) : undefined)
  return millis ?? fail(`--${flag} must be a duration like 20ms or 1s, got ${text}`)
}

const integerOf = (flag: string, text: string | undefined, fallback: number): number => {
  if (text === undefined) return fallback
  return /^\d+$/.test(text) && Number.isSafeInteger(Number(text)) ? Number(text) : fail(`--${flag} must be a whole number, got ${text}`)
}

const main = async (): Promise<void> => {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        port: { type: "string" },
        key: { type: "string", multiple: true },
        latency: { type: "string" },
        jitter: { type: "string" },
        seed: { type: "string" },
        quota: { type: "string" },
        "no-test-iam-permissions": { type: "boolean", default: false }
      },
      strict: true,
      allowPositionals: false
    })
  } catch (error) {
    return fail(error instanceof Error ? error.message : String(error))
  }
  const { values } = parsed
  const keys = values.key ?? []
  if (keys.length === 0) fail("at least one --key is needed")
  const port = integerOf("port", values.port, 0)
  if (port > 65535) fail(`--port must be at most 65535, got ${port}`)
  const latencyMillis = millisOf("latency", values.latency)
  const jitterMillis = millisOf("jitter", values.jitter)

  const quota = values.quota === undefined ? undefined : integerOf("quota", values.quota, 0)
  if (quota !== undefined && quota < 1) fail("--quota must be at least 1")
  const fake = await startFakeCloudKms({
    keys,
    port,
    seed: integerOf("seed", values.seed, 1),
    testIamPermissions: !values["no-test-iam-permissions"],
    ...(quota === undefined ? {} : { quota: { callsPerSecond: quota } })
  })
  if (latencyMillis > 0 || jitterMillis > 0) fake.setLatency({ millis: latencyMillis, jitterMillis })
  process.stdout.write(`fake cloud kms listening on ${fake.address}\n`)
  for (const key of keys) process.stderr.write(`serving crypto key ${key} (primary version 1)\n`)

  const stop = () => {
    void fake.stop().then(() => process.exit(0))
  }
  process.once("SIGTERM", stop)
  process.once("SIGINT", stop)
}

main().catch((error: unknown) => {
  process.stderr.write(`fake cloud kms failed to start: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
