import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"
import { noFlags } from "../support/config.ts"
import { nobody } from "../support/otherUser.ts"
import { tempDir } from "../support/tempDir.ts"

// The paths the operator gives, checked at start (exit 2, nothing started):
// the socket path must name a file, in a directory nobody else can empty;
// --fake-key-file and --gce-config must be regular files (a FIFO would hang
// the read), and the key file and its directory ours alone.

const keyUri = "projects/p/locations/global/keyRings/r/cryptoKeys/k"

/** The messages PluginConfig.load refuses `flags` with (with a good socket in `dir` unless given), or "valid". */
const loadMessage = (dir: string, flags: Partial<PluginFlags>) =>
  Effect.match(
    PluginConfig.load({ ...noFlags, keyUri: Option.some(keyUri), pathToUnixSocket: Option.some(path.join(dir, "kms.sock")), ...flags }, {}),
    { onFailure: (error) => error.message, onSuccess: () => "valid" }
  )

/** A directory with this mode (and owner), for the socket or the key file. */
const dirWith = (mode: number, owner = 0) =>
  Effect.map(tempDir, (parent) => {
    const dir = path.join(parent, "d")
    fs.mkdirSync(dir)
    fs.chmodSync(dir, mode)
    fs.chownSync(dir, owner, owner)
    return dir
  })

const mkfifo = (file: string) => execFileSync("mkfifo", ["-m", "0600", file])

describe("--path-to-unix-socket names a file", () => {
  const parsed = (raw: string) =>
    Result.match(parseConfig({ ...noFlags, keyUri: Option.some(keyUri), pathToUnixSocket: Option.some(raw) }), {
      onFailure: (error) => error.message,
      onSuccess: (config) => `valid ${config.socketPath}`
    })

  it("a path ending in '/', '.' or '..' names a directory: refused, naming the flag", () => {
    assert.strictEqual(
      parsed("/var/run/kmsplugin/"),
      "--path-to-unix-socket: must name the socket file, not a directory: \"/var/run/kmsplugin/\" ends in '/'"
    )
    assert.strictEqual(
      parsed("run/kms.sock/"),
      "--path-to-unix-socket: must name the socket file, not a directory: \"run/kms.sock/\" ends in '/'"
    )
    assert.strictEqual(parsed("/"), "--path-to-unix-socket: must name the socket file, not a directory: \"/\" ends in '/'")
    assert.strictEqual(parsed("."), "--path-to-unix-socket: must name the socket file, not a directory: \".\" ends in '.'")
    assert.strictEqual(parsed("run/.."), "--path-to-unix-socket: must name the socket file, not a directory: \"run/..\" ends in '..'")
  })

  it("relative paths, '..' on the way and names with dots are kept as written", () => {
    for (const raw of ["../run/kms.sock", "./kms.sock", "kms.sock", "run/../kms.sock", "..kms", "kms.", "@name/"]) {
      assert.strictEqual(parsed(raw), `valid ${raw}`)
    }
  })

  it.effect("a path naming an existing directory: refused, saying what to give instead", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      fs.mkdirSync(path.join(dir, "sockets"))
      assert.strictEqual(
        yield* loadMessage(dir, { pathToUnixSocket: Option.some(path.join(dir, "sockets")) }),
        `--path-to-unix-socket: ${path.join(dir, "sockets")} is a directory; name the socket file in it, e.g. ${path.join(dir, "sockets", "kms.sock")}`
      )
    })
  )
})

describe("the socket's directory: nobody else may replace the socket", () => {
  const socketIn = (dir: string) =>
    loadMessage(dir, { kmsBackend: Option.some("fake"), pathToUnixSocket: Option.some(path.join(dir, "kms.sock")) })

  it.effect("writable by every user without the sticky bit (0777): refused, saying how to fix it", () =>
    Effect.gen(function* () {
      const dir = yield* dirWith(0o777)
      assert.strictEqual(
        yield* socketIn(dir),
        `--path-to-unix-socket: ${dir} can be written by every user and has no sticky bit, so any of them could replace the socket in it; chmod o-w ${dir} (or chmod +t ${dir}, as on /tmp)`
      )
    })
  )

  it.effect("sticky like /tmp (01777), private (0755, 0700) or writable by its group (0775): accepted", () =>
    Effect.gen(function* () {
      for (const mode of [0o1777, 0o755, 0o700, 0o775, 0o1770]) {
        assert.strictEqual(yield* socketIn(yield* dirWith(mode)), "valid", mode.toString(8))
      }
    })
  )

  it.effect("owned by another non-root user, even with the sticky bit: refused (the owner can remove any entry)", () =>
    Effect.gen(function* () {
      for (const mode of [0o755, 0o1777]) {
        const dir = yield* dirWith(mode, nobody)
        assert.strictEqual(
          yield* socketIn(dir),
          `--path-to-unix-socket: ${dir} belongs to uid ${nobody}, who could replace the socket in it; use a directory owned by root or by this process's uid (0)`
        )
      }
    })
  )

  it.effect("an abstract socket has no directory to check", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* loadMessage(yield* tempDir, { pathToUnixSocket: Option.some("@kmsp-path-safety") }), "valid")
    })
  )
})

describe("--fake-key-file (with --kms-backend fake)", () => {
  const keyFile = (dir: string, file: string) => loadMessage(dir, { kmsBackend: Option.some("fake"), fakeKeyFile: Option.some(file) })

  it.effect("a file that does not exist yet, or a regular 0600 file of ours: accepted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      assert.strictEqual(yield* keyFile(dir, path.join(dir, "keys.json")), "valid")
      fs.writeFileSync(path.join(dir, "keys.json"), "{}", { mode: 0o600 })
      assert.strictEqual(yield* keyFile(dir, path.join(dir, "keys.json")), "valid")
    })
  )

  it.effect("a FIFO, a directory or a symlink: refused, naming the flag", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fifo = path.join(dir, "fifo")
      mkfifo(fifo)
      assert.strictEqual(yield* keyFile(dir, fifo), `--fake-key-file: ${fifo} is a FIFO (named pipe), not a regular file`)
      assert.strictEqual(yield* keyFile(dir, dir), `--fake-key-file: ${dir} is a directory, not a regular file`)
      const link = path.join(dir, "link")
      fs.writeFileSync(path.join(dir, "keys.json"), "{}", { mode: 0o600 })
      fs.symlinkSync(path.join(dir, "keys.json"), link)
      assert.strictEqual(yield* keyFile(dir, link), `--fake-key-file: ${link} is a symbolic link; give the path of the file itself`)
    })
  )

  it.effect("a file others can write, or of another uid: refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      fs.writeFileSync(file, "{}", { mode: 0o600 })
      fs.chmodSync(file, 0o666)
      assert.strictEqual(
        yield* keyFile(dir, file),
        `--fake-key-file: ${file} can be written by other users (mode 0666); chmod go-w ${file}`
      )
      fs.chmodSync(file, 0o600)
      fs.chownSync(file, nobody, nobody)
      assert.strictEqual(
        yield* keyFile(dir, file),
        `--fake-key-file: ${file} belongs to uid ${nobody}, not to this process's uid (0); it holds keys: only its owner may have it`
      )
    })
  )

  it.effect("its directory: missing, writable by all without the sticky bit, or another user's: refused", () =>
    Effect.gen(function* () {
      const socketDir = yield* tempDir
      const missing = path.join(socketDir, "missing")
      assert.strictEqual(
        yield* keyFile(socketDir, path.join(missing, "keys.json")),
        `--fake-key-file: directory ${missing} does not exist; create it`
      )
      const open = yield* dirWith(0o777)
      assert.strictEqual(
        yield* keyFile(socketDir, path.join(open, "keys.json")),
        `--fake-key-file: ${open} can be written by every user and has no sticky bit, so any of them could replace the key file in it; chmod o-w ${open} (or chmod +t ${open}, as on /tmp)`
      )
      const theirs = yield* dirWith(0o755, nobody)
      assert.strictEqual(
        yield* keyFile(socketDir, path.join(theirs, "keys.json")),
        `--fake-key-file: ${theirs} belongs to uid ${nobody}, who could replace the key file in it; use a directory owned by root or by this process's uid (0)`
      )
      assert.strictEqual(yield* keyFile(socketDir, path.join(yield* dirWith(0o1777), "keys.json")), "valid")
    })
  )

  it.effect("with the cloud backend it is never read, so not checked", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      mkfifo(path.join(dir, "fifo"))
      assert.strictEqual(yield* loadMessage(dir, { fakeKeyFile: Option.some(path.join(dir, "fifo")) }), "valid")
    })
  )
})

describe("--gce-config (with the cloud backend)", () => {
  const gce = (dir: string, file: string) => loadMessage(dir, { gceConfig: Option.some(file) })

  it.effect("a FIFO or a directory: refused, naming the flag; a regular file or a symlink to one (a ConfigMap mount): accepted", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fifo = path.join(dir, "gce.conf")
      mkfifo(fifo)
      assert.strictEqual(yield* gce(dir, fifo), `--gce-config: ${fifo} is a FIFO (named pipe), not a regular file`)
      assert.strictEqual(yield* gce(dir, dir), `--gce-config: ${dir} is a directory, not a regular file`)
      const regular = path.join(dir, "real.conf")
      fs.writeFileSync(regular, "[global]\n")
      fs.symlinkSync(regular, path.join(dir, "link.conf"))
      assert.strictEqual(yield* gce(dir, regular), "valid")
      assert.strictEqual(yield* gce(dir, path.join(dir, "link.conf")), "valid")
      // Missing: reported when it is read, with the reason.
      assert.strictEqual(yield* gce(dir, path.join(dir, "missing.conf")), "valid")
    })
  )

  it.effect("every path problem is reported at once", () =>
    Effect.gen(function* () {
      const dir = yield* dirWith(0o777)
      const fifo = path.join(dir, "gce.conf")
      mkfifo(fifo)
      const message = yield* gce(dir, fifo)
      assert.deepStrictEqual(
        message.split("\n").map((line) => line.split(":")[0]),
        ["--path-to-unix-socket", "--gce-config"]
      )
    })
  )
})
