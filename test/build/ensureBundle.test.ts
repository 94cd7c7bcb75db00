import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "@effect/vitest"
import { BundleError, bundleState, ensureBundle, projectRoot } from "../../bin/ensureBundle.js"
import { run } from "../support/childProcess.ts"

// bin/ensureBundle.js, which the bin, `npm start` and `npm ci` (prepare)
// run before anything else: builds dist/ when it is missing or older than
// its sources, where the dev dependencies are installed; elsewhere uses what
// is there, or says how to build it. On checkouts made here, never the
// repository's own dist/.

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** Dates a file: seconds after an arbitrary past instant, or a Date. */
const touch = (file: string, when: number | Date) => {
  const date = typeof when === "number" ? new Date(Date.UTC(2026, 0, 1, 0, 0, when)) : when
  fs.utimesSync(file, date, date)
}

/** A checkout with sources dated 10 s, and optionally a bundle and a node_modules of its own. */
const checkout = (options: { readonly bundleAt?: number; readonly modules?: "none" | "production" | "the project's" } = {}) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-ensure-"))
  dirs.push(root)
  for (const source of ["bin", "src", "scripts", "package.json", "package-lock.json", "tsconfig.json"]) {
    fs.cpSync(path.join(projectRoot, source), path.join(root, source), { recursive: true })
  }
  for (const file of fs.readdirSync(root, { recursive: true, encoding: "utf8" })) touch(path.join(root, file), 10)
  if (options.modules === "the project's") fs.symlinkSync(path.join(projectRoot, "node_modules"), path.join(root, "node_modules"))
  if (options.modules === "production") {
    // What `npm ci --omit=dev` leaves: the pinned Node, no rolldown.
    fs.mkdirSync(path.join(root, "node_modules/.bin"), { recursive: true })
    fs.symlinkSync(fs.realpathSync(path.join(projectRoot, "node_modules/.bin/node")), path.join(root, "node_modules/.bin/node"))
    fs.writeFileSync(path.join(root, "node_modules/.package-lock.json"), "{}")
    touch(path.join(root, "node_modules/.package-lock.json"), 10)
  }
  if (options.bundleAt !== undefined) {
    fs.mkdirSync(path.join(root, "dist"))
    fs.writeFileSync(path.join(root, "dist/main.mjs"), "// an older build\n")
    touch(path.join(root, "dist/main.mjs"), options.bundleAt)
  }
  return root
}

describe("bundleState", () => {
  it("missing without dist/main.mjs; fresh when no source is newer; stale as soon as one is", () => {
    assert.strictEqual(bundleState(checkout()), "missing")
    const root = checkout({ bundleAt: 20 })
    assert.strictEqual(bundleState(root), "fresh")
    touch(path.join(root, "src/grpc/KmsProtos.ts"), 30)
    assert.strictEqual(bundleState(root), "stale", "a source file deep in src/")
  })

  it("every input counts: scripts/, package.json, the lock, tsconfig.json, and npm's record of node_modules", () => {
    for (const input of ["scripts/build.ts", "package.json", "package-lock.json", "tsconfig.json", "node_modules/.package-lock.json"]) {
      const root = checkout({ bundleAt: 20, modules: "production" })
      assert.strictEqual(bundleState(root), "fresh", input)
      touch(path.join(root, input), 30)
      assert.strictEqual(bundleState(root), "stale", input)
    }
  })
})

describe("ensureBundle", () => {
  it("without the dev dependencies: a stale bundle is used as it is (production installs reset file dates)", () => {
    const root = checkout({ bundleAt: 5, modules: "production" })
    assert.strictEqual(ensureBundle(root), "stale")
    assert.strictEqual(fs.readFileSync(path.join(root, "dist/main.mjs"), "utf8"), "// an older build\n")
  })

  it("without the dev dependencies and without a bundle: an error that says how to build it", () => {
    const root = checkout({ modules: "production" })
    assert.throws(
      () => ensureBundle(root),
      BundleError,
      /is not built.*rolldown, a dev dependency, is not installed.*npm ci && npm run build/s
    )
  })

  it("with them: builds a missing bundle, then a stale one, and leaves a fresh one alone", () => {
    const root = checkout({ modules: "the project's" })
    assert.strictEqual(ensureBundle(root), "built")
    const main = path.join(root, "dist/main.mjs")
    assert.include(fs.readFileSync(main, "utf8"), "sourceMappingURL=main.mjs.map")
    assert.isNotEmpty(fs.readdirSync(path.join(root, "dist/chunks")))
    assert.strictEqual(ensureBundle(root), "fresh")

    // A source saved after the build started (the bundle is dated from its start).
    touch(path.join(root, "src/version.ts"), new Date(fs.statSync(main).mtimeMs + 1))
    assert.strictEqual(bundleState(root), "stale")
    assert.strictEqual(ensureBundle(root), "built")
    assert.strictEqual(bundleState(root), "fresh")
    assert.deepStrictEqual(
      fs.readdirSync(root).filter((name) => name.startsWith(".dist-")),
      [],
      "no staging folder left"
    )
  })

  it("as npm's prepare step it never fails an install: it says why it did not build and exits 0", async () => {
    const root = checkout({ modules: "production" })
    const prepare = run(process.execPath, [path.join(root, "bin/ensureBundle.js")], { cwd: root })
    assert.deepStrictEqual(await prepare.exited, { code: 0, signal: null })
    assert.match(prepare.stderr(), /dist\/main\.mjs is not built, and this checkout cannot build it/)
    assert.isFalse(fs.existsSync(path.join(root, "dist")))
  })
})
