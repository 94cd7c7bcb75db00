import * as fs from "node:fs"
import * as path from "node:path"
import { runSoak } from "./driver.ts"
import { parseRunOptions, usage } from "./options.ts"
import { markdown } from "./report.ts"

// `npm run soak`: the fault soak. Markdown summary on stdout, progress on
// stderr, everything in test/soak/results/latest.json; exit 1 if any check
// failed. `node test/soak/run.ts --help` lists the knobs.

const log = (line: string) => process.stderr.write(`soak: ${line}\n`)

const main = async (): Promise<number> => {
  // `npm run soak -- --limits`: the soak's phases and more, inside the static pod's limits (test/limits/run.ts).
  const argv = process.argv.slice(2)
  if (argv.includes("--limits")) return (await import("../limits/run.ts")).main(argv.filter((arg) => arg !== "--limits"))
  let options
  try {
    options = parseRunOptions(process.argv.slice(2), process.env)
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`)
    return 2
  }
  if (options.help) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  let keptLog = ""
  const result = await runSoak({
    ...options.config,
    log,
    ...(options.keepLog === undefined
      ? {}
      : { onLog: (output: { readonly stderr: string; readonly stdout: string }) => (keptLog = output.stderr + output.stdout) })
  })
  fs.mkdirSync(path.dirname(options.out), { recursive: true })
  fs.writeFileSync(options.out, `${JSON.stringify(result, null, 2)}\n`)
  if (options.keepLog !== undefined) fs.writeFileSync(options.keepLog, keptLog)
  process.stdout.write(markdown(result))
  log(`results in ${path.relative(process.cwd(), options.out)}`)
  return result.ok ? 0 : 1
}

// SIGINT/SIGTERM: exit through process.exit so the driver's children die with us (see pluginProcess.ts).
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(signal === "SIGINT" ? 130 : 143))

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`soak failed to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
