import * as fs from "node:fs"
import * as path from "node:path"
import { installCleanup } from "../bench/cleanup.ts"
import { imageNodeOptions } from "../docker/imageRuntime.ts"
import { type Bundle, buildBundle } from "./bundle.ts"
import { parseCliOptions, plans, usage } from "./options.ts"
import { readPodResources } from "./podResources.ts"
import { markdown } from "./report.ts"
import { runLimits } from "./runLimits.ts"

// `node test/limits/run.ts` (or `npm run soak -- --limits`): the plugin inside
// the static pod's limits. Markdown on stdout, progress on stderr, JSON in
// --out; exit 1 if any check failed, 2 on bad flags.

const log = (line: string) => process.stderr.write(`limits: ${line}\n`)

export const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  let options
  try {
    options = parseCliOptions(argv)
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    return 2
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  installCleanup()
  const pod = readPodResources()
  const limits = {
    memoryBytes: options.memoryMib === undefined ? pod.limits.memoryBytes : options.memoryMib * 2 ** 20,
    cpus: options.cpus ?? pod.limits.cpus
  }
  let bundle: Bundle | undefined
  try {
    if (options.entry === undefined) {
      log("building the sources into a temp dir")
      bundle = await buildBundle()
    }
    const plan = plans[options.preset]
    const result = await runLimits({
      limits,
      entry: options.entry ?? bundle?.entry ?? "",
      ...(bundle === undefined ? {} : { entryLabel: "dist/main.mjs" }),
      nodeArgs: options.nodeOptions ?? imageNodeOptions(),
      deadlineMillis: plan.deadlineMillis,
      ...(options.scenarios.includes("soak") && plan.soak !== undefined ? { soak: plan.soak } : {}),
      ...(options.scenarios.includes("storm") && plan.storm !== undefined ? { storm: plan.storm } : {}),
      ...(options.scenarios.includes("bulk") && plan.bulk !== undefined ? { bulk: plan.bulk } : {}),
      log
    })
    fs.mkdirSync(path.dirname(options.out), { recursive: true })
    fs.writeFileSync(options.out, `${JSON.stringify({ preset: options.preset, ...result }, null, 2)}\n`)
    process.stdout.write(markdown(result))
    log(`results in ${path.relative(process.cwd(), options.out)}`)
    return result.ok ? 0 : 1
  } finally {
    bundle?.remove()
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`limits run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
      process.exit(1)
    }
  )
}
