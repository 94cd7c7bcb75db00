import * as http2 from "node:http2"
import * as net from "node:net"
import * as zlib from "node:zlib"
import * as fc from "fast-check"
import { concat, encodeMessage, len, patternBytes, utf8 } from "./protobuf.ts"
import { methods, pathOf, unknownPaths } from "./requests.ts"

// Garbage below gRPC: bytes, HTTP/2 frames and gRPC framing that no client
// library would send, over raw connections to the plugin's unix socket.

export const preface = utf8("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")

export const FrameType = { data: 0, headers: 1, rstStream: 3, settings: 4, ping: 6, goaway: 7, windowUpdate: 8, continuation: 9 } as const

/** An HTTP/2 frame; `length` overrides the 24-bit length field (to lie about it). */
export const frame = (type: number, flags: number, stream: number, payload: Uint8Array, length = payload.length): Uint8Array => {
  const header = Buffer.alloc(9)
  header.writeUIntBE(Math.max(0, Math.min(0xffffff, length)), 0, 3)
  header.writeUInt8(type & 255, 3)
  header.writeUInt8(flags & 255, 4)
  header.writeUInt32BE(stream >>> 0, 5)
  return concat([header, payload])
}

const settingsFrame = (settings: ReadonlyArray<readonly [number, number]>) => {
  const payload = Buffer.alloc(settings.length * 6)
  settings.forEach(([id, value], i) => {
    payload.writeUInt16BE(id & 0xffff, i * 6)
    payload.writeUInt32BE(value >>> 0, i * 6 + 2)
  })
  return frame(FrameType.settings, 0, 0, payload)
}

/** HPACK "literal header field without indexing, new name", no Huffman: no dynamic table state. */
const hpack = (headers: ReadonlyArray<readonly [string, string]>): Uint8Array =>
  concat(
    headers.map(([name, value]) => {
      const n = utf8(name)
      const v = utf8(value)
      if (n.length > 126 || v.length > 126) throw new Error("hpack: keep header fields short")
      return concat([Uint8Array.of(0, n.length), n, Uint8Array.of(v.length), v])
    })
  )

const grpcRequestHeaders = (path: string) =>
  hpack([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "localhost"],
    ["content-type", "application/grpc"],
    ["te", "trailers"]
  ])

/** A gRPC length-prefixed message. */
export const grpcFrame = (message: Uint8Array, flag = 0, declared = message.length): Uint8Array => {
  const prefix = Buffer.alloc(5)
  prefix.writeUInt8(flag & 255, 0)
  prefix.writeUInt32BE(declared >>> 0, 1)
  return concat([prefix, message])
}

const END_STREAM = 1
const END_HEADERS = 4

// ---------------------------------------------------------------------------
// Raw connections.

/** What to do with a connection after writing: half-close and wait for the server to close, cut it, or hold it open. */
export type Close = "end" | "destroy" | "hold"

export interface NetGarbage {
  readonly kind: string
  readonly bytes: Uint8Array
  readonly close: Close
}

const close: fc.Arbitrary<Close> = fc.constantFrom("end", "end", "destroy", "hold")

const randomFrame = fc
  .record({
    type: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }),
    flags: fc.integer({ min: 0, max: 255 }),
    stream: fc.oneof(fc.constantFrom(0, 1, 2, 3, 5, 0x7fffffff, 0x80000001), fc.integer({ min: 0, max: 0xffffffff })),
    payload: fc.uint8Array({ maxLength: 64 }),
    lie: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -8, max: 0xffffff }) })
  })
  .map((f) => frame(f.type, f.flags, f.stream, f.payload, f.payload.length + f.lie))

const weirdSettings = fc
  .array(
    fc.tuple(
      fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 0xffff })),
      fc.oneof(
        fc.constantFrom(0, 1, 2, 16383, 16384, 16777215, 16777216, 0x7fffffff, 0x80000000, 0xffffffff),
        fc.integer({ min: 0, max: 0xffffffff })
      )
    ),
    { maxLength: 6 }
  )
  .map(settingsFrame)

const anyPath = fc.oneof(fc.constantFrom(...methods.map(pathOf)), fc.constantFrom(...unknownPaths))

/** A gRPC call made of raw frames: HEADERS, then DATA frames of (maybe lying) gRPC messages. */
const rawGrpcCall = fc
  .record({
    path: anyPath,
    stream: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 0x7fffffff })),
    messages: fc.array(
      fc.tuple(
        fc.uint8Array({ maxLength: 48 }),
        fc.integer({ min: 0, max: 255 }),
        fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 0xffffffff }))
      ),
      { maxLength: 3 }
    ),
    endStream: fc.boolean()
  })
  .map(({ endStream, messages, path, stream }) => {
    const data = concat(
      messages.map(([m, flag, declared]) => grpcFrame(m, flag % 3 === 2 ? flag : flag % 2, declared === -1 ? m.length : declared))
    )
    return concat([
      frame(FrameType.headers, END_HEADERS, stream, grpcRequestHeaders(path)),
      frame(FrameType.data, endStream ? END_STREAM : 0, stream, data)
    ])
  })

export const netGarbage: fc.Arbitrary<NetGarbage> = fc.oneof(
  fc.record({ kind: fc.constant("random bytes"), bytes: fc.uint8Array({ minLength: 1, maxLength: 256 }), close }),
  fc.record({ kind: fc.constant("partial preface"), bytes: fc.nat({ max: preface.length - 1 }).map((n) => preface.subarray(0, n)), close }),
  fc.record({
    kind: fc.constant("preface, random frames"),
    bytes: fc
      .tuple(fc.option(weirdSettings, { nil: undefined }), fc.array(randomFrame, { minLength: 1, maxLength: 12 }))
      .map(([settings, frames]) => concat([preface, ...(settings === undefined ? [] : [settings]), ...frames])),
    close
  }),
  fc.record({
    kind: fc.constant("preface, raw gRPC calls"),
    bytes: fc.array(rawGrpcCall, { minLength: 1, maxLength: 3 }).map((calls) => concat([preface, settingsFrame([]), ...calls])),
    close
  }),
  fc.record({
    kind: fc.constant("frame header announcing more than is sent"),
    bytes: fc
      .tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 1, max: 0xffffff }), fc.uint8Array({ maxLength: 32 }))
      .map(([type, length, partial]) =>
        concat([
          preface,
          settingsFrame([]),
          frame(type, 0, type === FrameType.settings || type === FrameType.ping ? 0 : 1, partial, length + partial.length)
        ])
      ),
    close: fc.constant<Close>("hold")
  }),
  fc.record({
    kind: fc.constant("rapid reset"),
    bytes: fc.integer({ min: 1, max: 500 }).map((n) =>
      concat([
        preface,
        settingsFrame([]),
        ...Array.from({ length: n }, (_, i) => {
          const stream = 2 * i + 1
          return concat([
            frame(FrameType.headers, END_HEADERS, stream, grpcRequestHeaders(pathOf("v2.Status"))),
            frame(FrameType.rstStream, 0, stream, Uint8Array.of(0, 0, 0, 8))
          ])
        })
      ])
    ),
    close
  }),
  fc.record({
    kind: fc.constant("ping and settings flood"),
    bytes: fc
      .tuple(fc.integer({ min: 1, max: 3000 }), fc.boolean())
      .map(([n, pings]) =>
        concat([
          preface,
          ...Array.from({ length: n }, (_, i) => (pings ? frame(FrameType.ping, 0, 0, patternBytes(8, i)) : settingsFrame([])))
        ])
      ),
    close
  }),
  fc.record({ kind: fc.constant("idle"), bytes: fc.constant(new Uint8Array(0)), close: fc.constant<Close>("hold") })
)

/** The largest case of each kind that allocates per connection: the warm-up sends these first. */
export const heaviestNetGarbage = (): Array<NetGarbage> => {
  const rapidReset = concat([
    preface,
    settingsFrame([]),
    ...Array.from({ length: 500 }, (_, i) =>
      concat([
        frame(FrameType.headers, END_HEADERS, 2 * i + 1, grpcRequestHeaders(pathOf("v2.Status"))),
        frame(FrameType.rstStream, 0, 2 * i + 1, Uint8Array.of(0, 0, 0, 8))
      ])
    )
  ])
  const pings = concat([preface, ...Array.from({ length: 3000 }, (_, i) => frame(FrameType.ping, 0, 0, patternBytes(8, i)))])
  const settings = concat([preface, ...Array.from({ length: 3000 }, () => settingsFrame([]))])
  return [
    { kind: "rapid reset", bytes: rapidReset, close: "end" },
    { kind: "ping and settings flood", bytes: pings, close: "end" },
    { kind: "ping and settings flood", bytes: settings, close: "end" },
    {
      kind: "frame header announcing more than is sent",
      bytes: concat([preface, settingsFrame([]), frame(0, 0, 1, new Uint8Array(0), 0xffffff)]),
      close: "hold"
    }
  ]
}

/** An open connection; `closed` resolves when it is gone (whoever closed it). */
export interface Held {
  readonly destroy: () => void
  readonly closed: Promise<void>
}

/** Sends the garbage. Resolves once the connection is gone, or at once with it held open for "hold". */
export const sendNetGarbage = (socketPath: string, garbage: NetGarbage): Promise<Held | undefined> =>
  new Promise((resolve) => {
    const socket = net.connect(socketPath)
    const closed = new Promise<void>((done) => socket.once("close", () => done()))
    socket.on("error", () => {}) // EPIPE / ECONNRESET when the server hangs up first: expected
    socket.on("data", () => {}) // read whatever the server answers, so it is never blocked on us
    socket.once("connect", () => {
      socket.write(garbage.bytes, () => {
        if (garbage.close === "hold") resolve({ destroy: () => socket.destroy(), closed })
        else {
          if (garbage.close === "end") socket.end()
          else socket.destroy()
          void closed.then(() => resolve(undefined))
        }
      })
      if (garbage.close === "hold" && garbage.bytes.length === 0) resolve({ destroy: () => socket.destroy(), closed })
    })
    // A refused connection (the plugin gone) also ends here: the liveness check reports it.
    void closed.then(() => resolve(undefined))
  })

// ---------------------------------------------------------------------------
// gRPC framing oddities over a well-behaved HTTP/2 client.

export interface GrpcOddity {
  readonly kind: "grpc framing"
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: ReadonlyArray<Uint8Array>
  readonly end: boolean
}

const gzip = (bytes: Uint8Array) => new Uint8Array(zlib.gzipSync(bytes))

const validMessage = fc.constantFrom(
  new Uint8Array(0),
  encodeMessage([len(1, utf8("hello"))]),
  encodeMessage([len(1, utf8("v1beta1")), len(2, utf8("hello"))])
)

const messageFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: validMessage.map((m) => grpcFrame(m)) },
  // Compressed flag set: with grpc-encoding gzip this is a real compressed message.
  { weight: 2, arbitrary: validMessage.map((m) => grpcFrame(gzip(m), 1)) },
  // A gzip bomb: 16 MiB of zeros, about 16 KiB compressed.
  { weight: 1, arbitrary: fc.constant(grpcFrame(gzip(new Uint8Array(16 * 1024 * 1024)), 1)) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 255 })).map(([m, flag]) => grpcFrame(m, flag))
  },
  // A length prefix that lies, either way.
  {
    weight: 2,
    arbitrary: fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 0, max: 0xffffffff })).map(([m, n]) => grpcFrame(m, 0, n))
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4 }) }
)

const headerName = fc
  .stringMatching(/^[a-z][a-z0-9-]{0,20}$/)
  .filter(
    (n) =>
      ![
        "te",
        "content-type",
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "upgrade",
        "host",
        "http2-settings"
      ].includes(n)
  )
const headerValue = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 })

export const grpcOddity: fc.Arbitrary<GrpcOddity> = fc.record({
  kind: fc.constant("grpc framing" as const),
  path: anyPath,
  headers: fc
    .record(
      {
        "content-type": fc.oneof(
          { weight: 6, arbitrary: fc.constant("application/grpc") },
          { weight: 1, arbitrary: fc.constantFrom("application/grpc+proto", "application/grpc+json") },
          { weight: 1, arbitrary: fc.constantFrom("application/json", "text/plain", "") }
        ),
        "grpc-encoding": fc.constantFrom("identity", "gzip", "deflate", "snappy", "x-nonsense"),
        "grpc-timeout": fc.constantFrom("5S", "1n", "100m", "99999999H", "-1S", "abc", "5", "1000000000S"),
        extra: fc.array(
          fc.tuple(
            fc.oneof(
              headerName,
              headerName.map((n) => `${n}-bin`)
            ),
            headerValue
          ),
          { maxLength: 4 }
        )
      },
      { requiredKeys: ["content-type", "extra"] }
    )
    .map(({ extra, ...rest }): Record<string, string> => {
      const headers: Record<string, string> = Object.fromEntries(extra)
      for (const [name, value] of Object.entries(rest)) if (value !== undefined) headers[name] = value
      return headers
    }),
  body: fc.array(messageFrame, { maxLength: 3 }),
  end: fc.boolean()
})

export interface GrpcAnswer {
  /** grpc-status and grpc-message, an HTTP status, or an RST_STREAM code. */
  readonly grpcStatus: number | undefined
  readonly grpcMessage: string | undefined
  readonly httpStatus: number | undefined
  readonly rstCode: number | undefined
}

/**
 * Makes the call on its own connection. If `end`, resolves with the answer
 * once the stream closes; otherwise resolves at once with the call held open
 * (an answer may come anyway, e.g. for a message over the size limit).
 */
export const sendGrpcOddity = (socketPath: string, oddity: GrpcOddity): Promise<{ answer: Promise<GrpcAnswer>; held: Held }> =>
  new Promise((resolve) => {
    const socket = net.connect(socketPath)
    const session = http2.connect("http://localhost", { createConnection: () => socket })
    const closed = new Promise<void>((done) => session.once("close", () => done()))
    session.on("error", () => {})
    const stream = session.request({ ":method": "POST", ":path": oddity.path, te: "trailers", ...oddity.headers })
    let grpcStatus: number | undefined
    let grpcMessage: string | undefined
    let httpStatus: number | undefined
    const take = (headers: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader) => {
      if (headers[":status"] !== undefined) httpStatus = headers[":status"]
      if (headers["grpc-status"] !== undefined) grpcStatus = Number(headers["grpc-status"])
      if (headers["grpc-message"] !== undefined) grpcMessage = decodeURIComponent(String(headers["grpc-message"]))
    }
    stream.on("response", take)
    stream.on("trailers", take)
    stream.on("error", () => {})
    stream.on("data", () => {})
    const answer = new Promise<GrpcAnswer>((done) =>
      stream.once("close", () => done({ grpcStatus, grpcMessage, httpStatus, rstCode: stream.rstCode === 0 ? undefined : stream.rstCode }))
    )
    const held: Held = { destroy: () => session.destroy(), closed }
    for (const chunk of oddity.body) stream.write(chunk)
    if (oddity.end) stream.end()
    resolve({ answer, held })
  })
