import { type ChildProcess, fork } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { FaultRule, Latency } from "../fakes/FakeCloudKms.ts"
import type { Counters, FakeOp, FakeReply, FakeRequest } from "./fakeProcess.ts"

// The soak driver's handle on the fake Cloud KMS process (fakeProcess.ts).
// Requests go over the fork IPC channel, in order, each answered once.

export interface FakeControl {
  readonly address: string
  readonly pid: number
  readonly inject: (rule: FaultRule) => Promise<void>
  readonly clearFaults: () => Promise<void>
  readonly setLatency: (latency: Latency | undefined) => Promise<void>
  /** Drops every connection and call in flight, then serves again on the same port. */
  readonly restart: () => Promise<void>
  /** Adds a version and makes it primary; its number. */
  readonly rotate: (cryptoKey: string) => Promise<number>
  readonly counters: () => Promise<Counters>
  /** Calls in flight at the fake: 0 as soon as there are none, or what is left after `boundMillis`. */
  readonly settle: (boundMillis: number) => Promise<number>
  /** True at the next GetCryptoKey answered OK, false after `boundMillis`. */
  readonly nextKeyCheck: (boundMillis: number) => Promise<boolean>
  readonly stop: () => Promise<void>
}

const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), "fakeProcess.ts")

export const startFakeProcess = async (options: { readonly keys: ReadonlyArray<string>; readonly seed: number }): Promise<FakeControl> => {
  const child: ChildProcess = fork(entry, ["--seed", String(options.seed), ...options.keys.flatMap((key) => ["--key", key])], {
    execArgv: [],
    stdio: ["ignore", "inherit", "inherit", "ipc"]
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  let nextId = 1
  const pending = new Map<number, { readonly resolve: (value: unknown) => void; readonly reject: (error: Error) => void }>()
  const address = await new Promise<string>((resolve, reject) => {
    child.once("error", reject)
    void exited.then(() => reject(new Error("the fake Cloud KMS process exited before serving")))
    child.on("message", (message: FakeReply) => {
      if (message.kind === "ready") return resolve(message.address)
      const waiter = pending.get(message.id)
      if (waiter === undefined) return
      pending.delete(message.id)
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new Error(`fake Cloud KMS: ${message.error}`))
    })
  })
  void exited.then(() => {
    for (const waiter of pending.values()) waiter.reject(new Error("the fake Cloud KMS process exited"))
    pending.clear()
  })
  const request = <A>(op: FakeOp): Promise<A> =>
    new Promise((resolve, reject) => {
      if (child.exitCode !== null || child.signalCode !== null) return reject(new Error("the fake Cloud KMS process has exited"))
      const id = nextId++
      pending.set(id, { resolve: (value) => resolve(value as A), reject })
      const message: FakeRequest = { ...op, id }
      child.send(message)
    })
  return {
    address,
    pid: child.pid ?? -1,
    inject: (rule) => request({ op: "inject", rule }),
    clearFaults: () => request({ op: "clearFaults" }),
    setLatency: (latency) => request({ op: "setLatency", latency }),
    restart: () => request({ op: "restart" }),
    rotate: (cryptoKey) => request({ op: "rotate", cryptoKey }),
    counters: () => request({ op: "counters" }),
    settle: (boundMillis) => request({ op: "settle", boundMillis }),
    nextKeyCheck: (boundMillis) => request({ op: "nextKeyCheck", boundMillis }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        await request({ op: "stop" }).catch(() => undefined)
        await exited
      }
    }
  }
}
