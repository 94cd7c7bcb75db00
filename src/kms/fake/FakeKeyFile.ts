import * as fs from "node:fs"
import * as path from "node:path"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { type FakeCryptoKey, keyVersion } from "./FakeKeyRing.ts"

// Keeps the fake backend's keys on disk (mode 0600) so that data written
// during development still decrypts after a restart. Fake keys only: a real
// deployment never has key material on disk.

const StoredVersion = Schema.Struct({
  version: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  material: Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9+/]{43}=$/))),
  state: Schema.Literals(["ENABLED", "DISABLED", "DESTROYED"])
})

const StoredKeys = Schema.Struct({
  format: Schema.Literal(1),
  keys: Schema.Array(Schema.Struct({
    name: Schema.String,
    primary: Schema.Int,
    versions: Schema.Array(StoredVersion)
  }))
})

const decodeStoredKeys = Schema.decodeUnknownResult(Schema.fromJsonString(StoredKeys))

/** The keys in `file`; an empty list if it does not exist yet. */
export const loadFakeKeys = (file: string): Result.Result<Array<FakeCryptoKey>, string> => {
  let text: string
  try {
    text = fs.readFileSync(file, "utf8")
  } catch (error) {
    if (error instanceof Error && "code" in error && error.code === "ENOENT") return Result.succeed([])
    return Result.fail(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
  return Result.match(decodeStoredKeys(text), {
    onFailure: (error) => Result.fail(`${file} is not a fake key file: ${error.message}`),
    onSuccess: (stored) =>
      Result.succeed(stored.keys.map((key) => ({
        name: key.name,
        primary: key.primary,
        versions: new Map(key.versions.map((v) => [v.version, keyVersion(v.version, Buffer.from(v.material, "base64"), v.state)]))
      })))
  })
}

/** Writes all keys atomically (temp file, then rename), readable by the owner only. */
export const saveFakeKeys = (file: string, keys: Iterable<FakeCryptoKey>): void => {
  const stored = {
    format: 1,
    keys: [...keys].map((key) => ({
      name: key.name,
      primary: key.primary,
      versions: [...key.versions.values()].map((v) => ({
        version: v.version,
        material: Buffer.from(v.material).toString("base64"),
        state: v.state
      }))
    }))
  }
  const temp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`)
  fs.writeFileSync(temp, JSON.stringify(stored, null, 2), { mode: 0o600 })
  fs.renameSync(temp, file)
}
