import * as path from "node:path"
import { projectRoot } from "../support/projectRoot.ts"
import { readDockerfile } from "./dockerfile.ts"

// How the image runs the entrypoint: the Node options its runtime stage sets
// (ENV NODE_OPTIONS), so the limits run and the bench start the bundle the
// same way the image does.

/** The ENV pairs of an instruction: `KEY=value KEY2="two words"` or the legacy `KEY value`. */
export const envPairs = (args: string): ReadonlyArray<readonly [string, string]> => {
  const legacy = /^([A-Za-z_][A-Za-z0-9_]*)\s+([^=]*)$/.exec(args.trim())
  if (legacy?.[1] !== undefined && !args.includes("=")) return [[legacy[1], legacy[2] ?? ""]]
  return [...args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("((?:[^"\\]|\\.)*)"|\S*)/g)].map(
    (match) => [match[1] ?? "", match[3] !== undefined ? match[3].replace(/\\(.)/g, "$1") : (match[2] ?? "")] as const
  )
}

/** NODE_OPTIONS of docker/Dockerfile's runtime stage, split into arguments ([] if it sets none). */
export const imageNodeOptions = (file = path.join(projectRoot, "docker/Dockerfile")): ReadonlyArray<string> => {
  const runtime = readDockerfile(file).stages.at(-1)
  let value = ""
  for (const instruction of runtime?.instructions ?? []) {
    if (instruction.keyword !== "ENV") continue
    for (const [key, v] of envPairs(instruction.args)) if (key === "NODE_OPTIONS") value = v
  }
  return value.split(/\s+/).filter((word) => word !== "")
}
