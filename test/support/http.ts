import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig, type PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import { HealthServer } from "../../src/health/HealthServer.ts"
import { plugin } from "../../src/main.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import { noFlags } from "./TestPlugin.ts"
import { tempDir } from "./tempDir.ts"

export interface FullPluginShape {
  readonly config: PluginConfigShape
  readonly target: string
  readonly url: string
  readonly metricsUrl: string
}

/** The whole plugin as main composes it (socket + health server), on a temp socket and a free port, logging nothing. */
export class FullPlugin extends Context.Service<FullPlugin, FullPluginShape>()("test/FullPlugin") {
  static readonly layer = (flags: Partial<PluginFlags>) =>
    Layer.effect(
      FullPlugin,
      Effect.gen(function*() {
        const running = yield* Layer.build(
          plugin({
            ...noFlags,
            pathToUnixSocket: Option.some(path.join(yield* tempDir, "kms.sock")),
            healthzPort: Option.some("0"),
            logLevel: Option.some("none"),
            ...flags
          }).pipe(Layer.provide(Shutdown.layerTest))
        )
        const health = Context.get(running, HealthServer)
        return {
          config: Context.get(running, PluginConfig),
          target: Context.get(running, GrpcServer).target,
          url: health.url,
          metricsUrl: health.metricsUrl
        }
      })
    )
}

export const httpGet = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: await response.text(), contentType: response.headers.get("content-type") ?? "" }
  })

/** Prometheus text → value of the first sample with this name and these labels (all of them), or undefined. */
export const sample = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
  }
  return undefined
}
