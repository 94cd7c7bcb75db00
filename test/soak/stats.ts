import { status } from "@grpc/grpc-js"

// What one phase's calls did, as the client saw them.

export const codeName = (code: number): string => status[code] ?? `CODE_${code}`

/** Nearest-rank percentile of an ascending array; NaN when empty. */
export const percentile = (sorted: ArrayLike<number>, p: number): number => {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] ?? Number.NaN
}

export interface MethodCounts {
  calls: number
  successes: number
  failures: Record<string, number>
}

export interface Sample {
  readonly method: string
  readonly elapsedMillis: number
  readonly code: string
  readonly detail: string
  /** The request's uid (v2 Encrypt/Decrypt), to find the plugin's own log line. */
  readonly uid?: string
  /** The plugin's own measure of the call (its log line's `seconds`), ms; filled in after the run. */
  readonly pluginMillis?: number
}

const maxSamples = 10

/** One call as the client saw it. */
export interface CallRecord {
  readonly method: string
  readonly elapsedMillis: number
  /** gRPC status code; 0 (OK) on success. */
  readonly code: number
  readonly details: string
  readonly uid?: string | undefined
}

export class PhaseRecorder {
  calls = 0
  successes = 0
  readonly failuresByCode: Record<string, number> = {}
  readonly byMethod: Record<string, MethodCounts> = {}
  wrongPlaintexts = 0
  badAnswers = 0
  /** Answered after the caller's deadline, or DEADLINE_EXCEEDED. */
  late = 0
  /** Failed with a code this phase does not expect. */
  unexpected = 0
  /** Status answers whose healthz was not "ok". */
  statusNotOk = 0
  maxLatencyMillis = 0
  /** Every distinct error message, as "CODE\tdetails", with its count. */
  readonly details = new Map<string, number>()
  readonly samples: {
    readonly wrong: Array<Sample>
    readonly bad: Array<Sample>
    readonly late: Array<Sample>
    readonly unexpected: Array<Sample>
  } = { wrong: [], bad: [], late: [], unexpected: [] }
  #latencies: Array<number> = []

  readonly deadlineMillis: number
  readonly expectedCodes: ReadonlySet<number>

  constructor(deadlineMillis: number, expectedCodes: ReadonlySet<number>) {
    this.deadlineMillis = deadlineMillis
    this.expectedCodes = expectedCodes
  }

  /** Counts a call; returns true if it succeeded. */
  record(call: CallRecord): boolean {
    this.calls += 1
    this.#latencies.push(call.elapsedMillis)
    if (call.elapsedMillis > this.maxLatencyMillis) this.maxLatencyMillis = call.elapsedMillis
    const method = this.byMethod[call.method] ?? { calls: 0, successes: 0, failures: {} }
    this.byMethod[call.method] = method
    method.calls += 1
    const sample = (): Sample => ({
      method: call.method,
      elapsedMillis: round1(call.elapsedMillis),
      code: codeName(call.code),
      detail: call.details,
      ...(call.uid === undefined ? {} : { uid: call.uid })
    })
    if (call.elapsedMillis > this.deadlineMillis || call.code === status.DEADLINE_EXCEEDED) {
      this.late += 1
      keep(this.samples.late, sample())
    }
    if (call.code === status.OK) {
      this.successes += 1
      method.successes += 1
      return true
    }
    const name = codeName(call.code)
    const key = `${name}\t${call.details}`
    this.details.set(key, (this.details.get(key) ?? 0) + 1)
    this.failuresByCode[name] = (this.failuresByCode[name] ?? 0) + 1
    method.failures[name] = (method.failures[name] ?? 0) + 1
    if (!this.expectedCodes.has(call.code)) {
      this.unexpected += 1
      keep(this.samples.unexpected, sample())
    }
    return false
  }

  wrongPlaintext(method: string, detail: string): void {
    this.wrongPlaintexts += 1
    keep(this.samples.wrong, { method, elapsedMillis: 0, code: "OK", detail })
  }

  badAnswer(method: string, detail: string): void {
    this.badAnswers += 1
    keep(this.samples.bad, { method, elapsedMillis: 0, code: "OK", detail })
  }

  latency(): { readonly p50: number; readonly p99: number; readonly max: number } {
    const sorted = Float64Array.from(this.#latencies).sort()
    return { p50: round1(percentile(sorted, 50)), p99: round1(percentile(sorted, 99)), max: round1(this.maxLatencyMillis) }
  }

  /** The most frequent error messages. */
  topErrors(n: number): Array<{ readonly code: string; readonly message: string; readonly count: number }> {
    return [...this.details.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, count]) => {
        const tab = key.indexOf("\t")
        return { code: key.slice(0, tab), message: key.slice(tab + 1), count }
      })
  }

  /** Latencies, for the totals. */
  latencies(): ReadonlyArray<number> {
    return this.#latencies
  }
}

const keep = (samples: Array<Sample>, sample: Sample) => {
  if (samples.length < maxSamples) samples.push(sample)
}

export const round1 = (value: number): number => Math.round(value * 10) / 10
