import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { projectRoot } from "../support/projectRoot.ts"

// The built entrypoint, from the current sources, without touching the
// repository's own dist/ (other tests and runs may be using it): `npm run
// build` into a temp dir laid out like the image (dist/ with proto/ and
// node_modules/ beside it, where the bundle looks for them).

export interface Bundle {
  /** .../dist/main.mjs */
  readonly entry: string
  readonly remove: () => void
}

export const buildBundle = async (): Promise<Bundle> => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kms-limits-bundle-"))
  const remove = () => fs.rmSync(root, { recursive: true, force: true })
  try {
    const dist = path.join(root, "dist")
    await new Promise<void>((resolve, reject) =>
      execFile(
        "npm",
        ["run", "-s", "build", "--", "--dir", dist],
        {
          cwd: projectRoot,
          env: { ...process.env, PATH: `${path.join(projectRoot, "node_modules/.bin")}${path.delimiter}${process.env["PATH"] ?? ""}` }
        },
        (error, stdout, stderr) =>
          error === null ? resolve() : reject(new Error(`npm run build failed: ${error.message}\n${stdout}\n${stderr}`))
      )
    )
    fs.symlinkSync(path.join(projectRoot, "proto"), path.join(root, "proto"))
    fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(root, "node_modules"))
    const entry = path.join(dist, "main.mjs")
    if (!fs.existsSync(entry)) throw new Error(`the build made no ${entry}`)
    return { entry, remove }
  } catch (error) {
    remove()
    throw error
  }
}
