import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { build } from "rolldown"
import packageJson from "../package.json" with { type: "json" }
import { isBundleExternal } from "./bundleExternals.ts"

// `npm run build`: src/main.ts → dist/main.mjs (+ lazily loaded chunks), the
// one artifact that the bin, npm start, the image, the bench and the soak all
// run. The source revision is fixed into it here (src/version.ts reads it).

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

const revisionPattern = /^[0-9A-Za-z._-]{1,64}$/

/**
 * The commit the bundle is built from: SOURCE_REVISION when set (the image
 * build, whose context has no .git), else `git rev-parse HEAD` of the
 * checkout, else "unknown" (a source tarball).
 */
export const sourceRevision = (env: NodeJS.ProcessEnv, gitHead: () => string | undefined): string => {
  const given = env["SOURCE_REVISION"]?.trim()
  const revision = given !== undefined && given !== "" ? given : (gitHead() ?? "unknown")
  if (!revisionPattern.test(revision))
    throw new Error(`SOURCE_REVISION must be a commit id (letters, digits, . _ -), got ${JSON.stringify(revision)}`)
  return revision
}

export const gitHead = (cwd: string): string | undefined => {
  try {
    return execFileSync("git", ["rev-parse", "HEAD"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
  } catch {
    // No git, or not a checkout.
    return undefined
  }
}

export const buildBundle = async (options: {
  readonly outDir: string
  readonly revision: string
  /** The entry module; the plugin's by default. */
  readonly input?: string
}): Promise<void> => {
  const startedAt = new Date()
  await build({
    input: options.input ?? path.join(projectRoot, "src/main.ts"),
    cwd: projectRoot,
    platform: "node",
    external: isBundleExternal,
    // Replaces the declared constant in src/version.ts; from source it stays undefined.
    transform: { define: { __PLUGIN_REVISION__: JSON.stringify(options.revision) } },
    output: {
      dir: options.outDir,
      format: "esm",
      minify: true,
      sourcemap: true,
      entryFileNames: "[name].mjs",
      chunkFileNames: "chunks/[name]-[hash].mjs",
      cleanDir: true
    }
  })
  // Dated from the start of the build: a source saved while it ran makes it stale (bin/ensureBundle.js).
  const entry = path.join(options.outDir, `${path.basename(options.input ?? "main.ts", ".ts")}.mjs`)
  fs.utimesSync(entry, startedAt, startedAt)
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { dir: { type: "string", default: path.join(projectRoot, "dist") }, label: { type: "string" } }
  })
  const outDir = path.resolve(values.dir)
  const revision = sourceRevision(process.env, () => gitHead(projectRoot))
  await buildBundle({ outDir, revision })
  const built = values.label ?? path.relative(process.cwd(), path.join(outDir, "main.mjs"))
  process.stderr.write(`built ${built}: ${packageJson.name} ${packageJson.version}, revision ${revision}\n`)
}
