#!/usr/bin/env node
// @ts-check
// Runs the bundle dist/main.mjs (the one the image runs) in this Node, which
// must be 24 or later, after making sure it is built and not older than src/
// (bin/ensureBundle.js). `npm start` runs this file; the
// `k8s-cloudkms-plugin` command (bin/k8s-cloudkms-plugin) execs the
// project's pinned Node 24 on it.
import * as path from "node:path"
import { BundleError, ensureBundle, projectRoot } from "./ensureBundle.js"

/** @param {string} message @returns {never} */
const fail = (message) => {
  process.stderr.write(`k8s-cloudkms-plugin: ${message}\n`)
  process.exit(2)
}

if (Number(process.versions.node.split(".")[0]) < 24) {
  fail(
    `needs Node.js 24 or later (this is ${process.version}): run npm ci, which installs it, and start the plugin with npx k8s-cloudkms-plugin or npm start`
  )
}
try {
  ensureBundle()
} catch (error) {
  if (!(error instanceof BundleError)) throw error
  fail(error.message)
}
const plugin = await import(path.join(projectRoot, "dist/main.mjs"))
plugin.main()
