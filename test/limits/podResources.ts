import * as fs from "node:fs"
import * as path from "node:path"
import { parse } from "yaml"
import { projectRoot } from "../support/projectRoot.ts"

// The static pod's resources (docker/static-pod.yaml), read from the manifest
// itself so the limits test always runs under what the pod declares.

export const staticPodFile = path.join(projectRoot, "docker/static-pod.yaml")

/** A Kubernetes memory quantity (128Mi, 1Gi, 500M, 1e6 …) in bytes. */
export const memoryBytesOf = (quantity: unknown): number => {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|K|M|G|T|k)?$/.exec(String(quantity))
  if (match === null) throw new Error(`not a memory quantity: ${String(quantity)}`)
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 }[match[2] ?? ""] ?? 1
  return Number(match[1]) * unit
}

/** A Kubernetes CPU quantity ("1", "0.5", "250m") in CPUs. */
export const cpusOf = (quantity: unknown): number => {
  const match = /^(\d+(?:\.\d+)?)(m)?$/.exec(String(quantity))
  if (match === null) throw new Error(`not a CPU quantity: ${String(quantity)}`)
  return Number(match[1]) / (match[2] === "m" ? 1000 : 1)
}

const field = (value: unknown, name: string, what: string): unknown => {
  if (typeof value !== "object" || value === null || !(name in value)) throw new Error(`${staticPodFile}: no ${what}`)
  return Reflect.get(value, name)
}

export interface Resources {
  readonly memoryBytes: number
  readonly cpus: number
}

export interface PodResources {
  readonly requests: Resources
  readonly limits: Resources
}

export const readPodResources = (file = staticPodFile): PodResources => {
  const pod: unknown = parse(fs.readFileSync(file, "utf8"))
  const containers = field(field(pod, "spec", "spec"), "containers", "spec.containers")
  const container = Array.isArray(containers)
    ? containers.find((c: unknown) => field(c, "name", "container name") === "kms-plugin")
    : undefined
  const resources = field(container, "resources", "kms-plugin resources")
  const of = (kind: "requests" | "limits"): Resources => {
    const values = field(resources, kind, `resources.${kind}`)
    return { memoryBytes: memoryBytesOf(field(values, "memory", `${kind}.memory`)), cpus: cpusOf(field(values, "cpu", `${kind}.cpu`)) }
  }
  return { requests: of("requests"), limits: of("limits") }
}
