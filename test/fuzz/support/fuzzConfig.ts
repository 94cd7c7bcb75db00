import { status } from "@grpc/grpc-js"

// How much to fuzz. The default (CI) run keeps the whole test/fuzz folder
// well under a minute on two shared cores; KMS_FUZZ_RUNS=10000 turns every
// property into a soak of that many cases and prints a summary per property.

const fromEnv = (name: string): number | undefined => {
  const text = process.env[name]
  if (text === undefined || text === "") return undefined
  const value = Number(text)
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not ${JSON.stringify(text)}`)
  return value
}

const soakRuns = fromEnv("KMS_FUZZ_RUNS")

/** True when KMS_FUZZ_RUNS is set: long runs, and a printed summary. */
export const soak = soakRuns !== undefined

/** Cases for one property: `ci` by default, KMS_FUZZ_RUNS in soak mode. */
export const runs = (ci: number): number => soakRuns ?? ci

/** A vitest timeout for a test that runs `cases` cases at about `msPerCase` each. */
export const timeoutFor = (cases: number, msPerCase: number): number => Math.max(30_000, 20_000 + 3 * cases * msPerCase)

/** fast-check options: a fixed seed when KMS_FUZZ_SEED is given, to replay a run. */
export const checkOptions = (numRuns: number) => {
  const seed = fromEnv("KMS_FUZZ_SEED")
  return seed === undefined ? { numRuns } : { numRuns, seed }
}

export const codeName = (code: number): string => status[code] ?? `code ${code}`

/** Counts outcomes by label (e.g. "v2.Decrypt malformed") and gRPC code. */
export class Tally {
  readonly counts = new Map<string, Map<string, number>>()
  cases = 0

  add(label: string, outcome: string): void {
    this.cases++
    const byOutcome = this.counts.get(label) ?? new Map<string, number>()
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1)
    this.counts.set(label, byOutcome)
  }

  /** Every outcome seen, over all labels. */
  outcomes(): Set<string> {
    const all = new Set<string>()
    for (const byOutcome of this.counts.values()) for (const outcome of byOutcome.keys()) all.add(outcome)
    return all
  }

  totals(): Map<string, number> {
    const totals = new Map<string, number>()
    for (const byOutcome of this.counts.values()) {
      for (const [outcome, n] of byOutcome) totals.set(outcome, (totals.get(outcome) ?? 0) + n)
    }
    return totals
  }

  format(title: string, extra: ReadonlyArray<string> = []): string {
    const line = (counts: Map<string, number>) =>
      [...counts]
        .sort((a, b) => b[1] - a[1])
        .map(([outcome, n]) => `${outcome}=${n}`)
        .join(" ")
    const labels = [...this.counts.keys()].sort()
    return [
      `fuzz summary: ${title}: ${this.cases} cases; ${line(this.totals())}`,
      ...labels.map((label) => `  ${label}: ${line(this.counts.get(label) ?? new Map())}`),
      ...extra.map((text) => `  ${text}`)
    ].join("\n")
  }
}

/** Prints the summary in soak mode (and when KMS_FUZZ_VERBOSE is set). */
export const report = (tally: Tally, title: string, extra: ReadonlyArray<string> = []): void => {
  if (soak || process.env["KMS_FUZZ_VERBOSE"] !== undefined) console.log(tally.format(title, extra))
}
