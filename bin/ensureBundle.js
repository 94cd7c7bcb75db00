// @ts-check
// Makes sure dist/main.mjs (the bundle every way of running the plugin runs)
// exists and is not older than what it is built from. Plain JavaScript that
// any Node from 20 on can run: the bin calls it before it picks a Node.
// Run as a script it is the `prepare` step of `npm ci` / `npm install`.
//
// Only a checkout with the dev dependencies (rolldown) can build. Without
// them (`npm ci --omit=dev`) a bundle that exists is used as it is, whatever
// the file dates say; a missing one is an error that says how to build it.
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

/** What the bundle is built from: a change to any of them makes it stale. @param {string} root */
const inputs = (root) => [
  path.join(root, "src"),
  path.join(root, "scripts"),
  path.join(root, "package.json"),
  path.join(root, "package-lock.json"),
  path.join(root, "tsconfig.json"),
  // Rewritten by every npm ci / npm install: the bundled libraries may have changed.
  path.join(root, "node_modules/.package-lock.json")
]

/** The latest modification time under `file` (a file or a directory), or 0 if it does not exist. @param {string} file @returns {number} */
const newestMtime = (file) => {
  let stat
  try {
    stat = fs.statSync(file)
  } catch {
    return 0
  }
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = 0
  for (const entry of fs.readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, entry)))
  return newest
}

/** @typedef {"fresh" | "stale" | "missing"} BundleState */

/** "fresh", "stale" (older than a source) or "missing". @returns {BundleState} */
export const bundleState = (root = projectRoot) => {
  let built
  try {
    built = fs.statSync(path.join(root, "dist/main.mjs")).mtimeMs
  } catch {
    return "missing"
  }
  return inputs(root).some((input) => newestMtime(input) > built) ? "stale" : "fresh"
}

/** Whether this checkout can build the bundle (dev dependencies installed). */
export const canBuild = (root = projectRoot) => fs.existsSync(path.join(root, "node_modules/rolldown/package.json"))

/** A Node that runs scripts/build.ts: this one from 24 on, else the project's pinned one. */
export const buildNode = (root = projectRoot) => {
  if (Number(process.versions.node.split(".")[0]) >= 24) return process.execPath
  const pinned = path.join(root, "node_modules/.bin/node")
  return fs.existsSync(pinned) ? pinned : undefined
}

export class BundleError extends Error {}

/** The `code` of a Node system error (ENOENT, …). @param {unknown} error */
export const errorCode = (error) => (error instanceof Error && "code" in error ? error.code : undefined)

/**
 * Builds dist/ if it is missing or stale and this checkout can build; the
 * build's output goes to stderr. Built aside and then moved into place, so a
 * plugin starting at the same time never reads a half-written dist/.
 * @returns {"fresh" | "stale" | "built"}
 */
export const ensureBundle = (root = projectRoot) => {
  const state = bundleState(root)
  if (state === "fresh") return state
  const node = canBuild(root) ? buildNode(root) : undefined
  if (node === undefined) {
    if (state === "stale") return state
    const why = canBuild(root) ? `no Node 24 to run the build, this is ${process.version}` : "rolldown, a dev dependency, is not installed"
    throw new BundleError(
      `${path.join(root, "dist/main.mjs")} is not built, and this checkout cannot build it (${why}): ` +
        "build it with `npm ci && npm run build` (`npm prune --omit=dev` afterwards drops the dev dependencies again)"
    )
  }
  const staging = path.join(root, `.dist-${process.pid}.tmp`)
  const retired = path.join(root, `.dist-${process.pid}.old`)
  try {
    const build = spawnSync(node, [path.join(root, "scripts/build.ts"), "--dir", staging, "--label", `dist/main.mjs (it was ${state})`], {
      cwd: root,
      stdio: ["ignore", 2, 2]
    })
    if (build.status !== 0)
      throw new BundleError(`building ${path.join(root, "dist")} failed (${build.status ?? build.signal ?? build.error?.message})`)
    try {
      fs.renameSync(path.join(root, "dist"), retired)
    } catch (error) {
      if (errorCode(error) !== "ENOENT") throw error
    }
    try {
      fs.renameSync(staging, path.join(root, "dist"))
    } catch (error) {
      // Another start built and placed a bundle between the two moves: it is as good as this one.
      if (errorCode(error) !== "ENOTEMPTY" && errorCode(error) !== "EEXIST") throw error
    }
  } finally {
    fs.rmSync(staging, { recursive: true, force: true })
    fs.rmSync(retired, { recursive: true, force: true })
  }
  return "built"
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // npm's `prepare`: build after installing when this checkout can; never fail an install for it.
  try {
    const result = ensureBundle()
    if (result === "fresh" || result === "built") process.exit(0)
    process.stderr.write("dist/main.mjs is older than src/, but rolldown is not installed: using it as it is\n")
  } catch (error) {
    process.stderr.write(`${error instanceof BundleError ? error.message : error}\n`)
  }
}
