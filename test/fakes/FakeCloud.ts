import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { keepAuthOffline } from "./cloudKmsClient.ts"
import { type FakeCloudKms, type FakeCloudKmsOptions, fakeCloudKms } from "./FakeCloudKms.ts"

// The fake Cloud KMS as a service of the test's context: the in-process
// plugin with the cloud backend (test/support/InProcessPlugin.ts) talks to
// the one it finds there, and the test drives the same one.

export const cloudKeyUri = "projects/test-project/locations/us-east1/keyRings/ring/cryptoKeys/key-a"
export const cloudOtherKeyUri = "projects/test-project/locations/us-east1/keyRings/ring/cryptoKeys/key-b"

/** A fake Cloud KMS holding key-a and key-b. */
export class FakeCloud extends Context.Service<FakeCloud, FakeCloudKms>()("test/FakeCloud") {
  /** With options of its own (e.g. no TestIamPermissions, a quota). */
  static readonly layerWith = (options: Omit<FakeCloudKmsOptions, "keys">) =>
    Layer.effect(
      FakeCloud,
      Effect.andThen(Effect.sync(keepAuthOffline), fakeCloudKms({ keys: [cloudKeyUri, cloudOtherKeyUri], ...options }))
    )
  static readonly layer = FakeCloud.layerWith({})
}
