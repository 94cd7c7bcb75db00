#!/usr/bin/env node
// The `k8s-cloudkms-plugin` command: runs src/main.ts on Node 24, which runs
// TypeScript directly. Started by an older node (these machines ship 20), it
// re-executes itself with the project's pinned Node 24 (the `node` dev
// dependency) instead of failing on the TypeScript.
import { spawnSync } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

const major = Number(process.versions.node.split(".")[0])
const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))
if (major >= 24) {
  const plugin = await import(main)
  plugin.main()
} else {
  const pinned = fileURLToPath(new URL("../node_modules/node/bin/node", import.meta.url))
  if (!existsSync(pinned)) {
    process.stderr.write(`k8s-cloudkms-plugin needs Node.js 24 or later (this is ${process.version}); run npm ci first\n`)
    process.exit(2)
  }
  const child = spawnSync(pinned, [main, ...process.argv.slice(2)], { stdio: "inherit" })
  process.exit(child.status ?? 1)
}
