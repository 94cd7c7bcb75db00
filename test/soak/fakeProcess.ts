import { status } from "@grpc/grpc-js"
import { type FakeCloudKms, type FaultRule, type KmsMethod, type Latency, startFakeCloudKms } from "../fakes/FakeCloudKms.ts"

// The fake Cloud KMS as its own process for the soak, driven over the IPC
// channel of child_process.fork (fakeControl.ts is the other end). It keeps
// the fake's work (gRPC server, AES-GCM, fault timers) off the event loop of
// the soak's client, whose clock decides what counts as a late answer.
//
// argv: --seed N --key NAME [--key NAME …]. Sends {ready, address} once
// serving, then answers each {id, op, args} with {id, ok, value | error}.

export type FakeOp =
  | { readonly op: "inject"; readonly rule: FaultRule }
  | { readonly op: "clearFaults" }
  | { readonly op: "setLatency"; readonly latency: Latency | undefined }
  | { readonly op: "restart" }
  | { readonly op: "rotate"; readonly cryptoKey: string }
  | { readonly op: "counters" }
  /** Resolves with the calls in flight: 0 as soon as there are none, else what is left after boundMillis. */
  | { readonly op: "settle"; readonly boundMillis: number }
  /** Resolves true at the next GetCryptoKey answered OK (the plugin's key check), false after boundMillis. */
  | { readonly op: "nextKeyCheck"; readonly boundMillis: number }
  | { readonly op: "stop" }

export interface Counters {
  readonly calls: Record<KmsMethod, number>
  readonly cancelled: Record<KmsMethod, number>
}

export type FakeRequest = FakeOp & { readonly id: number }
export type FakeReply =
  | { readonly kind: "ready"; readonly address: string }
  | { readonly kind: "reply"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly kind: "reply"; readonly id: number; readonly ok: false; readonly error: string }

const send = (message: FakeReply) => process.send?.(message)

const argValues = (flag: string): Array<string> =>
  process.argv.flatMap((arg, i) => (arg === flag && process.argv[i + 1] !== undefined ? [process.argv[i + 1] ?? ""] : []))

const inFlightOf = (fake: FakeCloudKms) => {
  let inFlight = 0
  const waiters = new Set<() => void>()
  const settled = () => {
    inFlight -= 1
    if (inFlight === 0) for (const wake of waiters) wake()
  }
  fake.events.on("call", () => {
    inFlight += 1
  })
  fake.events.on("answered", settled)
  fake.events.on("cancelled", settled)
  const settle = (boundMillis: number): Promise<number> =>
    new Promise((resolve) => {
      if (inFlight === 0) return resolve(0)
      const done = () => {
        clearTimeout(timer)
        waiters.delete(done)
        resolve(inFlight)
      }
      const timer = setTimeout(done, boundMillis)
      waiters.add(done)
    })
  return settle
}

const nextKeyCheck = (fake: FakeCloudKms, boundMillis: number): Promise<boolean> =>
  new Promise((resolve) => {
    const onAnswered = (seen: { readonly method: KmsMethod }, code: status) => {
      if (seen.method === "GetCryptoKey" && code === status.OK) done(true)
    }
    const timer = setTimeout(() => done(false), boundMillis)
    const done = (seen: boolean) => {
      clearTimeout(timer)
      fake.events.off("answered", onAnswered)
      resolve(seen)
    }
    fake.events.on("answered", onAnswered)
  })

const main = async () => {
  const keys = argValues("--key")
  const seed = Number(argValues("--seed")[0] ?? "1")
  const fake = await startFakeCloudKms({ keys, seed, maxRequestsKept: 1_000 })
  const settle = inFlightOf(fake)
  const run = async (request: FakeOp): Promise<unknown> => {
    switch (request.op) {
      case "inject":
        return fake.inject(request.rule)
      case "clearFaults":
        return fake.clearFaults()
      case "setLatency":
        return fake.setLatency(request.latency)
      case "restart":
        return fake.restart()
      case "rotate":
        return fake.rotate(request.cryptoKey)
      case "counters":
        return { calls: { ...fake.calls }, cancelled: { ...fake.cancelled } } satisfies Counters
      case "settle":
        return settle(request.boundMillis)
      case "nextKeyCheck":
        return nextKeyCheck(fake, request.boundMillis)
      case "stop":
        await fake.stop()
        setImmediate(() => process.exit(0))
        return undefined
    }
  }
  process.on("message", (message: FakeRequest) => {
    run(message).then(
      (value) => send({ kind: "reply", id: message.id, ok: true, value: value ?? null }),
      (error: unknown) => send({ kind: "reply", id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) })
    )
  })
  // The driver gone (even killed): nothing left to serve.
  process.on("disconnect", () => {
    void fake.stop().then(() => process.exit(0))
  })
  send({ kind: "ready", address: fake.address })
}

main().catch((error: unknown) => {
  process.stderr.write(`fake Cloud KMS process failed: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exit(1)
})
