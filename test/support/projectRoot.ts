import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository's root, wherever the tests run from. */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** The plugin's entrypoint, as `node` runs it from source. */
export const mainScript = path.join(projectRoot, "src/main.ts")
