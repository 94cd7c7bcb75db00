import * as fs from "node:fs"
import * as path from "node:path"
import { bundleExternals } from "./bundleExternals.ts"

// The image's node_modules: after `npm ci --omit=dev`, the packages that the
// bundle loads at run time (bundleExternals and everything they depend on)
// stay whole. Every other production package is inlined in dist/ already, so
// it keeps only its package.json and licence files: image scanners still see
// its name and version (its code ships inside dist/), and its licence ships
// with it, without its sources, typings and maps.
//
//   node scripts/slimRuntimeModules.ts [DIR]      (DIR holds node_modules; default .)

interface LockedPackage {
  readonly dependencies?: Readonly<Record<string, string>>
  readonly optionalDependencies?: Readonly<Record<string, string>>
  readonly peerDependencies?: Readonly<Record<string, string>>
  readonly link?: boolean
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null

/** npm's record of what it installed: node_modules/.package-lock.json, keyed by folder ("node_modules/a/node_modules/b"). */
export const readInstalled = (dir: string): ReadonlyMap<string, LockedPackage> => {
  const parsed: unknown = JSON.parse(fs.readFileSync(path.join(dir, "node_modules/.package-lock.json"), "utf8"))
  if (!isRecord(parsed) || !isRecord(parsed["packages"])) throw new Error(`${dir}/node_modules/.package-lock.json has no packages`)
  return new Map(
    Object.entries(parsed["packages"])
      .filter(([folder]) => folder !== "")
      .map(([folder, entry]) => [folder, isRecord(entry) ? entry : {}])
  )
}

/** Where Node finds package `name` from the package in `from` ("" for the app): its own node_modules, then each parent's. */
export const resolveFolder = (installed: ReadonlyMap<string, LockedPackage>, from: string, name: string): string | undefined => {
  let base = from
  for (;;) {
    const candidate = base === "" ? `node_modules/${name}` : `${base}/node_modules/${name}`
    if (installed.has(candidate)) return candidate
    if (base === "") return undefined
    const parent = base.lastIndexOf("/node_modules/")
    base = parent === -1 ? "" : base.slice(0, parent)
  }
}

/** The folders of `roots` and of everything they depend on, as Node would resolve them. */
export const runtimeClosure = (installed: ReadonlyMap<string, LockedPackage>, roots: ReadonlyArray<string>): ReadonlySet<string> => {
  const kept = new Set<string>()
  const visit = (from: string, name: string, required: boolean) => {
    const folder = resolveFolder(installed, from, name)
    if (folder === undefined) {
      if (required) throw new Error(`${name} (needed by ${from === "" ? "the bundle" : from}) is not installed`)
      return
    }
    if (kept.has(folder)) return
    kept.add(folder)
    const entry = installed.get(folder) ?? {}
    for (const dep of Object.keys(entry.dependencies ?? {})) visit(folder, dep, true)
    // Installed ones only: npm leaves out optional dependencies of other platforms.
    for (const dep of [...Object.keys(entry.optionalDependencies ?? {}), ...Object.keys(entry.peerDependencies ?? {})])
      visit(folder, dep, false)
  }
  for (const root of roots) visit("", root, true)
  return kept
}

const metadataFile = /^(package\.json|(licen[cs]e|notice|copying|authors)([.-].*)?)$/i

/** Deletes all but package.json and the licence files of a package folder (its own node_modules is left to its entries). */
const reduceToMetadata = (folder: string): void => {
  for (const entry of fs.readdirSync(folder, { withFileTypes: true })) {
    if (entry.name === "node_modules") continue
    if (entry.isFile() && metadataFile.test(entry.name)) continue
    fs.rmSync(path.join(folder, entry.name), { recursive: true, force: true })
  }
}

export const slimRuntimeModules = (dir: string): { readonly kept: number; readonly reduced: number } => {
  const installed = readInstalled(dir)
  const kept = runtimeClosure(installed, bundleExternals)
  let reduced = 0
  for (const [folder, entry] of installed) {
    if (kept.has(folder) || entry.link === true) continue
    reduceToMetadata(path.join(dir, folder))
    reduced++
  }
  // Commands of the reduced packages now point at nothing.
  const bin = path.join(dir, "node_modules/.bin")
  if (fs.existsSync(bin)) {
    for (const name of fs.readdirSync(bin)) if (!fs.existsSync(path.join(bin, name))) fs.rmSync(path.join(bin, name), { force: true })
  }
  return { kept: kept.size, reduced }
}

if (import.meta.main) {
  const dir = path.resolve(process.argv[2] ?? ".")
  const { kept, reduced } = slimRuntimeModules(dir)
  process.stderr.write(
    `node_modules: ${kept} packages loaded at run time kept whole, ${reduced} inlined in dist/ reduced to package.json and licence files\n`
  )
}
