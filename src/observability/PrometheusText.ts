// The Prometheus text exposition format (0.0.4) for metrics computed at
// scrape time: the runtime figures are read from Node and /proc when asked,
// so they are written straight to text instead of being mirrored into
// Effect metrics on every scrape.

export type FamilyType = "counter" | "gauge" | "histogram"

export type Labels = Readonly<Record<string, string>>

export interface Sample {
  /** Appended to the family's name: `_bucket`, `_sum`, `_count` for histograms. */
  readonly suffix?: string
  readonly labels?: Labels
  readonly value: number
}

export interface Family {
  readonly name: string
  readonly help: string
  readonly type: FamilyType
  readonly samples: ReadonlyArray<Sample>
}

const escapeLabel = (value: string): string => value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n")
const escapeHelp = (value: string): string => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n")

const formatValue = (value: number): string =>
  Number.isNaN(value) ? "NaN" : value === Infinity ? "+Inf" : value === -Infinity ? "-Inf" : String(value)

const formatLabels = (labels: Labels | undefined): string => {
  const entries = Object.entries(labels ?? {})
  return entries.length === 0 ? "" : `{${entries.map(([name, value]) => `${name}="${escapeLabel(value)}"`).join(",")}}`
}

/** One family: HELP, TYPE and its samples. A family without samples is left out. */
export const formatFamily = (family: Family): string =>
  family.samples.length === 0
    ? ""
    : [
        `# HELP ${family.name} ${escapeHelp(family.help)}`,
        `# TYPE ${family.name} ${family.type}`,
        ...family.samples.map(
          (sample) => `${family.name}${sample.suffix ?? ""}${formatLabels(sample.labels)} ${formatValue(sample.value)}`
        ),
        ""
      ].join("\n")

export const formatFamilies = (families: ReadonlyArray<Family>): string => families.map(formatFamily).join("")

/** The samples of one histogram series from per-bucket (not cumulative) counts; `counts` has one more entry than `boundaries` (+Inf). */
export const histogramSamples = (
  boundaries: ReadonlyArray<number>,
  counts: ReadonlyArray<number>,
  sum: number,
  labels: Labels = {}
): ReadonlyArray<Sample> => {
  let cumulative = 0
  const buckets = [...boundaries, Infinity].map((le, i) => {
    cumulative += counts[i] ?? 0
    return { suffix: "_bucket", labels: { ...labels, le: formatValue(le) }, value: cumulative }
  })
  return [...buckets, { suffix: "_sum", labels, value: sum }, { suffix: "_count", labels, value: cumulative }]
}
