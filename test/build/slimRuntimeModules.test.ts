import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { bundleExternals } from "../../scripts/bundleExternals.ts"
import { resolveFolder, runtimeClosure, slimRuntimeModules } from "../../scripts/slimRuntimeModules.ts"

// scripts/slimRuntimeModules.ts, which shapes the image's node_modules: what
// the bundle loads stays whole, what it inlines keeps package.json and its
// licence. On made-up trees here; test/docker/image.test.ts runs it on the
// real production install and starts the image's command on the result.

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

type Entry = {
  readonly dependencies?: Record<string, string>
  readonly optionalDependencies?: Record<string, string>
  readonly peerDependencies?: Record<string, string>
}

const tree = (packages: Record<string, Entry>) => new Map(Object.entries(packages))

describe("resolving a dependency as Node does", () => {
  const installed = tree({
    "node_modules/a": {},
    "node_modules/@s/b": {},
    "node_modules/@s/b/node_modules/a": {},
    "node_modules/@s/b/node_modules/c": {},
    "node_modules/@s/b/node_modules/c/node_modules/d": {}
  })

  it("its own node_modules first, then each parent's, up to the top", () => {
    assert.strictEqual(resolveFolder(installed, "", "a"), "node_modules/a")
    assert.strictEqual(resolveFolder(installed, "node_modules/@s/b", "a"), "node_modules/@s/b/node_modules/a")
    assert.strictEqual(resolveFolder(installed, "node_modules/@s/b/node_modules/c", "a"), "node_modules/@s/b/node_modules/a")
    assert.strictEqual(resolveFolder(installed, "node_modules/@s/b/node_modules/c/node_modules/d", "@s/b"), "node_modules/@s/b")
    assert.isUndefined(resolveFolder(installed, "node_modules/a", "c"), "a nested package is not visible from outside its parent")
  })

  it("the closure follows dependencies, and optional and peer ones where installed; a missing dependency is an error", () => {
    const installedTree = tree({
      "node_modules/ext": { dependencies: { shared: "1" }, optionalDependencies: { gone: "1" }, peerDependencies: { peer: "1" } },
      "node_modules/shared": { dependencies: { deep: "1" } },
      "node_modules/deep": {},
      "node_modules/peer": {},
      "node_modules/inlined": { dependencies: { shared: "1" } }
    })
    assert.sameMembers(
      [...runtimeClosure(installedTree, ["ext"])],
      ["node_modules/ext", "node_modules/shared", "node_modules/deep", "node_modules/peer"]
    )
    assert.throws(
      () => runtimeClosure(tree({ "node_modules/ext": { dependencies: { absent: "1" } } }), ["ext"]),
      /absent \(needed by node_modules\/ext\) is not installed/
    )
  })
})

describe("slimRuntimeModules", () => {
  it("keeps the external libraries and their dependencies whole; others keep package.json and licence files; dead commands go", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-slim-"))
    dirs.push(dir)
    const write = (file: string, text = "x") => {
      fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
      fs.writeFileSync(path.join(dir, file), text)
    }
    const packages: Record<string, Entry> = {}
    for (const name of bundleExternals) {
      packages[`node_modules/${name}`] = { dependencies: { "needed-at-run-time": "1" } }
      write(`node_modules/${name}/package.json`)
      write(`node_modules/${name}/build/index.js`)
    }
    packages["node_modules/needed-at-run-time"] = {}
    write("node_modules/needed-at-run-time/index.js")
    packages["node_modules/effect"] = {}
    for (const file of ["package.json", "LICENSE", "README.md", "dist/index.js", "src/index.ts"]) write(`node_modules/effect/${file}`)
    packages["node_modules/effect/node_modules/nested"] = {}
    for (const file of ["package.json", "LICENSE.md", "NOTICE", "COPYING.txt", "index.js", "licenses.js"])
      write(`node_modules/effect/node_modules/nested/${file}`)
    write("node_modules/.bin/tool")
    fs.symlinkSync("../effect/dist/cli.js", path.join(dir, "node_modules/.bin/effect-cli"))
    fs.symlinkSync("../needed-at-run-time/index.js", path.join(dir, "node_modules/.bin/kept-cli"))
    write("node_modules/.package-lock.json", JSON.stringify({ packages: { "": { dependencies: {} }, ...packages } }))

    assert.deepStrictEqual(slimRuntimeModules(dir), { kept: bundleExternals.length + 1, reduced: 2 })
    for (const name of bundleExternals) assert.isTrue(fs.existsSync(path.join(dir, `node_modules/${name}/build/index.js`)), name)
    assert.isTrue(fs.existsSync(path.join(dir, "node_modules/needed-at-run-time/index.js")))
    assert.sameMembers(fs.readdirSync(path.join(dir, "node_modules/effect")), ["package.json", "LICENSE", "node_modules"])
    assert.sameMembers(fs.readdirSync(path.join(dir, "node_modules/effect/node_modules/nested")), [
      "package.json",
      "LICENSE.md",
      "NOTICE",
      "COPYING.txt"
    ])
    assert.sameMembers(fs.readdirSync(path.join(dir, "node_modules/.bin")), ["tool", "kept-cli"])
  })
})
