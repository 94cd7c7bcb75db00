import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { projectRoot } from "../support/projectRoot.ts"

// LICENSE is the Apache License 2.0 exactly as apache.org publishes it
// (https://www.apache.org/licenses/LICENSE-2.0.txt), the licence that
// package.json names (and, through it, the image's
// org.opencontainers.image.licenses label: test/docker/dockerfile.test.ts).

/** SHA-256 of https://www.apache.org/licenses/LICENSE-2.0.txt, byte for byte. */
const apache2Sha256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

const read = (file: string): string => fs.readFileSync(path.join(projectRoot, file), "utf8")

describe("LICENSE and NOTICE", () => {
  it("LICENSE is the unmodified Apache License 2.0 text", () => {
    const text = read("LICENSE")
    assert.strictEqual(createHash("sha256").update(text).digest("hex"), apache2Sha256)
    assert.match(text, /^\s+Apache License\n\s+Version 2\.0, January 2004\n/)
  })

  it("package.json says Apache-2.0, and NOTICE carries the project's copyright line", () => {
    const packageJson: unknown = JSON.parse(read("package.json"))
    assert.deepInclude(packageJson, { license: "Apache-2.0" })
    const notice = read("NOTICE")
    assert.match(notice, /^k8s-cloudkms-plugin\nCopyright 2026 The k8s-cloudkms-plugin authors\n/)
    assert.include(notice, "Licensed under the Apache License, Version 2.0")
  })
})
