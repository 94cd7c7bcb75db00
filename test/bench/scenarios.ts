// The workloads, as data shared by the orchestrator (which runs them in order)
// and the load generator (which knows how to perform each kind of operation).

export const operationKinds = ["v2-status", "v2-roundtrip", "v2-encrypt", "v2-decrypt", "v2-decrypt-distinct", "v1beta1-encrypt"] as const
export type OperationKind = (typeof operationKinds)[number]

export const isOperationKind = (value: string): value is OperationKind => operationKinds.some((kind) => kind === value)

export interface Scenario {
  /** Stable id, used in JSON and in --scenarios. */
  readonly id: string
  readonly label: string
  readonly kind: OperationKind
  /** Calls kept in flight (closed loop: each finished call starts the next). */
  readonly concurrency: number
  /** Sample the server's RSS during this one, for the peak-under-load figure. */
  readonly samplePeakRss: boolean
}

export const scenarios: ReadonlyArray<Scenario> = [
  // What the apiserver polls; the cheapest call, so it shows per-call overhead.
  { id: "v2-status-c1", label: "v2 Status c=1", kind: "v2-status", concurrency: 1, samplePeakRss: false },
  // One op = Encrypt then Decrypt of its answer, plaintext compared.
  { id: "v2-roundtrip-c1", label: "v2 Encrypt+Decrypt c=1", kind: "v2-roundtrip", concurrency: 1, samplePeakRss: false },
  { id: "v2-encrypt-c16", label: "v2 Encrypt c=16", kind: "v2-encrypt", concurrency: 16, samplePeakRss: false },
  { id: "v2-encrypt-c64", label: "v2 Encrypt c=64", kind: "v2-encrypt", concurrency: 64, samplePeakRss: true },
  // Decrypts one ciphertext made before the measured window.
  { id: "v2-decrypt-c64", label: "v2 Decrypt c=64", kind: "v2-decrypt", concurrency: 64, samplePeakRss: true },
  { id: "v1beta1-encrypt-c16", label: "v1beta1 Encrypt c=16", kind: "v1beta1-encrypt", concurrency: 16, samplePeakRss: false }
]
