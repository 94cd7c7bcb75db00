#!/usr/bin/env node
// @ts-check
// The `k8s-cloudkms-plugin` command (and `npm start`): runs the bundle
// dist/main.mjs, the same one the image runs, built first if it is missing or
// older than src/ (bin/ensureBundle.js).
//
// On Node 24 or later the bundle runs in this process. An older Node (these
// machines ship 20) starts the project's pinned Node 24 on it instead and
// stands in for it: SIGTERM, SIGINT and SIGHUP are passed on, and its exit
// code (or the signal that ended it) becomes this process's.
import { spawn } from "node:child_process"
import * as os from "node:os"
import * as path from "node:path"
import { BundleError, ensureBundle, errorCode, projectRoot } from "./ensureBundle.js"

const bundle = path.join(projectRoot, "dist/main.mjs")
/** @type {ReadonlyArray<NodeJS.Signals>} */
const forwarded = ["SIGTERM", "SIGINT", "SIGHUP"]

/** @param {string} message @returns {never} */
const fail = (message) => {
  process.stderr.write(`k8s-cloudkms-plugin: ${message}\n`)
  process.exit(2)
}

try {
  ensureBundle()
} catch (error) {
  if (!(error instanceof BundleError)) throw error
  fail(error.message)
}

if (Number(process.versions.node.split(".")[0]) >= 24) {
  const plugin = await import(bundle)
  plugin.main()
} else {
  const pinned = path.join(projectRoot, "node_modules/.bin/node")
  // In a session of its own: a Ctrl-C or a hang-up on the terminal reaches
  // this process only, which passes it on once (a second signal would tell
  // the plugin to cut its in-flight calls short).
  const child = spawn(pinned, [bundle, ...process.argv.slice(2)], { stdio: "inherit", detached: true })
  /** @param {NodeJS.Signals} signal */
  const pass = (signal) => child.kill(signal)
  for (const signal of forwarded) process.on(signal, pass)
  child.once("error", (error) => {
    fail(errorCode(error) === "ENOENT" ? `needs Node.js 24 or later (this is ${process.version}): run npm ci, which installs it` : error.message)
  })
  child.once("exit", (code, signal) => {
    if (code !== null || signal === null) process.exit(code ?? 1)
    // Ended by a signal: end the same way, so whoever started this sees it.
    for (const s of forwarded) process.off(s, pass)
    process.kill(process.pid, signal)
    process.exit(128 + os.constants.signals[signal])
  })
  // Whatever ends this process first takes the plugin with it.
  process.once("exit", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
  })
}
