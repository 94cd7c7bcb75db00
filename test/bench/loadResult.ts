import { isOperationKind, type OperationKind } from "./scenarios.ts"

// The load generator's answer, and its decoding on the orchestrator's side
// (it crosses a process boundary as JSON, so it is checked, not trusted).

export interface LoadResult {
  readonly kind: OperationKind
  readonly concurrency: number
  readonly channels: number
  readonly measuredMillis: number
  readonly ops: number
  readonly opsPerSecond: number
  readonly p50Millis: number
  readonly p99Millis: number
  readonly maxMillis: number
  /** Failed or wrong answers over the whole run, warm-up included. */
  readonly errors: number
  /** Distinct error messages with their counts. */
  readonly errorKinds: Readonly<Record<string, number>>
  /** Size of each plaintext sent (Encrypt, round trip). */
  readonly plaintextBytes: number
  /** Each call's deadline, as the client set it. */
  readonly deadlineMillis: number
  /** Calls answered after their deadline or failed with DEADLINE_EXCEEDED, warm-up included. */
  readonly lateCalls: number
  /** The slowest call of the whole run (warm-up included, failures too), ms. */
  readonly slowestMillis: number
  /** Server CPU (user + system, all threads) inside the window; NaN without --server-pid. */
  readonly serverCpuMicros: number
  readonly serverCpuMicrosPerOp: number
  /** Highest server VmRSS sampled during the whole run; NaN without --sample-rss. */
  readonly serverPeakRssMib: number
  /** The load generator's own CPU per op: when it nears a core per second, the client is the limit. */
  readonly clientCpuMicrosPerOp: number
}

/** A run that produced no result at all (the generator crashed or could not connect). */
export const failedRun = (kind: OperationKind, concurrency: number, message: string): LoadResult => ({
  kind,
  concurrency,
  channels: 0,
  measuredMillis: 0,
  ops: 0,
  opsPerSecond: 0,
  p50Millis: Number.NaN,
  p99Millis: Number.NaN,
  maxMillis: Number.NaN,
  errors: 1,
  errorKinds: { [message]: 1 },
  plaintextBytes: Number.NaN,
  deadlineMillis: Number.NaN,
  lateCalls: 0,
  slowestMillis: Number.NaN,
  serverCpuMicros: Number.NaN,
  serverCpuMicrosPerOp: Number.NaN,
  serverPeakRssMib: Number.NaN,
  clientCpuMicrosPerOp: Number.NaN
})

const get = (value: object, name: string): unknown => (name in value ? Reflect.get(value, name) : undefined)

// JSON has no NaN: it arrives as null (or the key is missing).
const numberOf = (value: object, name: string): number => {
  const found = get(value, name)
  if (found === null || found === undefined) return Number.NaN
  if (typeof found !== "number") throw new Error(`load result: ${name} is not a number`)
  return found
}

export const decodeLoadResult = (text: string): LoadResult => {
  const parsed: unknown = JSON.parse(text)
  if (typeof parsed !== "object" || parsed === null) throw new Error("load result is not an object")
  const kind = get(parsed, "kind")
  if (typeof kind !== "string" || !isOperationKind(kind)) throw new Error("load result: bad kind")
  const kinds = get(parsed, "errorKinds")
  if (typeof kinds !== "object" || kinds === null) throw new Error("load result: bad errorKinds")
  const errorKinds: Record<string, number> = {}
  for (const [message, count] of Object.entries(kinds)) {
    if (typeof count !== "number") throw new Error("load result: bad errorKinds count")
    errorKinds[message] = count
  }
  return {
    kind,
    concurrency: numberOf(parsed, "concurrency"),
    channels: numberOf(parsed, "channels"),
    measuredMillis: numberOf(parsed, "measuredMillis"),
    ops: numberOf(parsed, "ops"),
    opsPerSecond: numberOf(parsed, "opsPerSecond"),
    p50Millis: numberOf(parsed, "p50Millis"),
    p99Millis: numberOf(parsed, "p99Millis"),
    maxMillis: numberOf(parsed, "maxMillis"),
    errors: numberOf(parsed, "errors"),
    errorKinds,
    plaintextBytes: numberOf(parsed, "plaintextBytes"),
    deadlineMillis: numberOf(parsed, "deadlineMillis"),
    lateCalls: numberOf(parsed, "lateCalls"),
    slowestMillis: numberOf(parsed, "slowestMillis"),
    serverCpuMicros: numberOf(parsed, "serverCpuMicros"),
    serverCpuMicrosPerOp: numberOf(parsed, "serverCpuMicrosPerOp"),
    serverPeakRssMib: numberOf(parsed, "serverPeakRssMib"),
    clientCpuMicrosPerOp: numberOf(parsed, "clientCpuMicrosPerOp")
  }
}
