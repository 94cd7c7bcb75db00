import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { defaultSocketPath } from "../../src/config/parseConfig.ts"
import { messageOf, parse } from "../support/config.ts"

// The socket path and its mode: what the kernel would refuse at bind time is
// refused at start instead, with the flag named.

const socketMessage = (raw: string) => messageOf({ pathToUnixSocket: Option.some(raw) })
const modeMessage = (raw: string) => messageOf({ socketMode: Option.some(raw) })

/** Listens on an abstract name and closes again: the error code, or undefined if it bound. */
const listenError = (name: string) =>
  Effect.callback<string | undefined>((resume) => {
    const server = net.createServer()
    server.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code)))
    server.listen(name, () => server.close(() => resume(Effect.succeed(undefined))))
  })

describe("--path-to-unix-socket", () => {
  it("defaults to the Go plugin's path", () => {
    assert.strictEqual(defaultSocketPath, "/var/run/kmsplugin/socket.sock")
    assert.strictEqual(Result.getOrThrow(parse({})).socketPath, defaultSocketPath)
  })

  it("a relative path or a name is kept as written", () => {
    assert.strictEqual(Result.getOrThrow(parse({ pathToUnixSocket: Option.some("kms.sock") })).socketPath, "kms.sock")
    assert.strictEqual(Result.getOrThrow(parse({ pathToUnixSocket: Option.some("a@b") })).socketPath, "a@b")
  })

  it("NUL is refused anywhere, in a file path or an abstract name", () => {
    assert.strictEqual(socketMessage("\u0000"), "--path-to-unix-socket: must not contain NUL")
    assert.strictEqual(socketMessage("@a\u0000b"), "--path-to-unix-socket: must not contain NUL")
  })

  it("the 107-byte limit counts bytes, not characters", () => {
    // "é" is two bytes in UTF-8: 1 + 53 * 2 = 107 fits, one more does not.
    assert.strictEqual(socketMessage(`/${"é".repeat(53)}`), "valid")
    assert.strictEqual(socketMessage(`/${"é".repeat(53)}x`), "--path-to-unix-socket: unix socket paths are limited to 107 bytes, got 108")
  })

  it("a file path ending in '@' is still a file path, with its length limit", () => {
    assert.strictEqual(socketMessage(`/${"d".repeat(107)}@`), "--path-to-unix-socket: unix socket paths are limited to 107 bytes, got 109")
  })

  it("an abstract name may be up to 107 bytes after the '@' (no terminating NUL), not more", () => {
    assert.strictEqual(socketMessage(`@${"a".repeat(107)}`), "valid")
    assert.strictEqual(
      socketMessage(`@${"a".repeat(108)}`),
      "--path-to-unix-socket: abstract socket names are limited to 107 bytes after the '@', got 108"
    )
  })

  it.live("those limits are the kernel's: a 107-byte abstract name binds, a 108-byte one does not", () =>
    Effect.gen(function* () {
      // Names unique to this process, so parallel runs cannot collide.
      const name = (bytes: number) => `\u0000${`kmsp-${process.pid}-`.padEnd(bytes, "x")}`
      assert.strictEqual(yield* listenError(name(107)), undefined)
      assert.strictEqual(yield* listenError(name(108)), "EINVAL")
    })
  )
})

describe("--socket-mode", () => {
  it("0777 is the most open mode allowed, 0600 the least", () => {
    assert.strictEqual(Result.getOrThrow(parse({ socketMode: Option.some("0777") })).socketMode, 0o777)
    assert.strictEqual(Result.getOrThrow(parse({ socketMode: Option.some("0600") })).socketMode, 0o600)
    assert.strictEqual(Result.getOrThrow(parse({ socketMode: Option.some("0O640") })).socketMode, 0o640)
  })

  it("four digits are allowed, but no bits above 0777 (setuid, setgid, sticky)", () => {
    assert.strictEqual(Result.getOrThrow(parse({ socketMode: Option.some("0640") })).socketMode, 0o640)
    for (const raw of ["1600", "2660", "4700", "7777"]) {
      assert.strictEqual(
        modeMessage(raw),
        `--socket-mode: expected an octal mode from 0600 to 0777 that lets the owner read and write, got ${JSON.stringify(raw)}`
      )
    }
  })

  for (const raw of [" 0600", "0600 ", "600o0", "0o0o600", "0x180", "0o", "0800", "60", "00600", "-600", "0660x"]) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      assert.strictEqual(
        modeMessage(raw),
        `--socket-mode: expected an octal mode from 0600 to 0777 that lets the owner read and write, got ${JSON.stringify(raw)}`
      )
    })
  }
})
