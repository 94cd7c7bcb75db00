import * as Effect from "effect/Effect"
import type { CheckResult } from "./probeChecks.ts"

// The health endpoints as a kubelet or Prometheus sees them.

const get = (url: string, timeoutMillis: number) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMillis)]) })
      return { status: response.status, body: await response.text() }
    },
    catch: (error) => `GET ${url}: ${error instanceof Error ? error.message : String(error)}`
  })

const expectOk = (name: string, url: string, timeoutMillis: number): Effect.Effect<CheckResult> =>
  get(url, timeoutMillis).pipe(
    Effect.map(({ body, status }) =>
      status === 200 && body.trim() === "ok"
        ? { name, ok: true, detail: "200 ok" }
        : { name, ok: false, detail: `${status} ${body.trim().slice(0, 300)}` }
    ),
    Effect.catch((reason) => Effect.succeed({ name, ok: false, detail: reason }))
  )

export const checkHealthEndpoints = (
  baseUrl: string,
  metricsUrl: string,
  paths: { readonly healthz: string; readonly metrics: string },
  timeoutMillis: number
): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.all([
    expectOk("GET /livez", `${baseUrl}/livez`, timeoutMillis),
    expectOk(`GET /${paths.healthz}?ping-kms=true`, `${baseUrl}/${paths.healthz}?ping-kms=true`, timeoutMillis),
    expectOk("GET /readyz", `${baseUrl}/readyz`, timeoutMillis),
    get(`${metricsUrl}/${paths.metrics}`, timeoutMillis).pipe(
      Effect.map(
        ({ body, status }): CheckResult =>
          status === 200 && body.includes("kms_plugin_grpc_requests_total")
            ? {
                name: `GET /${paths.metrics}`,
                ok: true,
                detail: `200, ${body.split("\n").filter((l) => l.startsWith("# TYPE")).length} metrics`
              }
            : { name: `GET /${paths.metrics}`, ok: false, detail: `${status}, no kms_plugin_grpc_requests_total` }
      ),
      Effect.catch((reason) => Effect.succeed({ name: `GET /${paths.metrics}`, ok: false, detail: reason }))
    )
  ])
