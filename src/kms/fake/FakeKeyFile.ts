import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { readOperatorFile, UnusableFile } from "../../config/OperatorFile.ts"
import { type FakeCryptoKey, keyVersion } from "./FakeKeyRing.ts"

// Keeps the fake backend's keys on disk (mode 0600) so that data written
// during development still decrypts after a restart. Fake keys only: a real
// deployment never has key material on disk.
//
// The file is read only if it is a regular file of this uid that nobody else
// can write. It is written whole to a new temp file in the same directory,
// created exclusively (never an existing file, never through a symlink) under
// an unpredictable name with mode 0600 from the start, synced, then renamed
// over the key file; so nobody else can own, read or half-write it.

const StoredVersion = Schema.Struct({
  version: Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0))),
  material: Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9+/]{43}=$/))),
  state: Schema.Literals(["ENABLED", "DISABLED", "DESTROYED"])
})

const StoredKeys = Schema.Struct({
  format: Schema.Literal(1),
  keys: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      primary: Schema.Int,
      versions: Schema.Array(StoredVersion)
    })
  )
})

const decodeStoredKeys = Schema.decodeUnknownResult(Schema.fromJsonString(StoredKeys))

const decodeKeys = (file: string, text: string): Result.Result<Array<FakeCryptoKey>, UnusableFile> =>
  Result.match(decodeStoredKeys(text), {
    onFailure: (error) => Result.fail(new UnusableFile({ message: `${file} is not a fake key file: ${error.message}`, missing: false })),
    onSuccess: (stored) =>
      Result.succeed(
        stored.keys.map(
          (key): FakeCryptoKey => ({
            name: key.name,
            primary: key.primary,
            versions: new Map(key.versions.map((v) => [v.version, keyVersion(v.version, Buffer.from(v.material, "base64"), v.state)]))
          })
        )
      )
  })

/** The keys in `file`; an empty list if it does not exist yet. */
export const loadFakeKeys = (file: string): Effect.Effect<Array<FakeCryptoKey>, UnusableFile> =>
  readOperatorFile(file, { private: true }).pipe(
    Effect.flatMap((text) => Effect.fromResult(decodeKeys(file, text))),
    Effect.catchIf(
      (error) => error.missing,
      () => Effect.succeed([])
    )
  )

const messageOf = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const serialize = (keys: Iterable<FakeCryptoKey>): string =>
  JSON.stringify(
    {
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
    },
    null,
    2
  )

/** O_EXCL: fails on any existing entry, a symlink included, so the temp file is always our own new file. */
const exclusiveCreate = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW

const writeAndClose = async (handle: fsp.FileHandle, text: string): Promise<void> => {
  try {
    await handle.chmod(0o600) // whatever the umask
    await handle.writeFile(text)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** The rename is durable once the directory is synced; not every file system allows it, so it is best effort. */
const syncDirectory = async (dir: string): Promise<void> => {
  try {
    const handle = await fsp.open(dir, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY)
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // The new file is in place either way.
  }
}

/** Writes all keys atomically, readable by the owner only. On failure the key file is as it was. */
export const saveFakeKeys = (file: string, keys: Iterable<FakeCryptoKey>): Effect.Effect<void, UnusableFile> =>
  Effect.tryPromise({
    try: async () => {
      const text = serialize(keys)
      const dir = path.dirname(file)
      const temp = path.join(dir, `.${path.basename(file)}.${randomBytes(12).toString("hex")}.tmp`)
      const handle = await fsp.open(temp, exclusiveCreate, 0o600)
      try {
        await writeAndClose(handle, text)
        await fsp.rename(temp, file)
      } catch (error) {
        // Only ever our own temp file: the exclusive create above succeeded.
        await fsp.rm(temp, { force: true }).catch(() => undefined)
        throw error
      }
      await syncDirectory(dir)
    },
    catch: (error) => new UnusableFile({ message: `cannot save the fake keys to ${file}: ${messageOf(error)}`, missing: false })
    // Never abandoned half way: the caller sets its state only once the file is in place.
  }).pipe(Effect.uninterruptible)
