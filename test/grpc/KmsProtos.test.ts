import { assert, describe, it } from "@effect/vitest"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"

// The two Kubernetes KMS services, loaded from proto/ once per process.

describe("KMS protos", () => {
  it("define the v2 and v1beta1 methods under their gRPC paths", () => {
    const services = kmsServices()
    assert.sameMembers(
      Object.values(services.v2).map((m) => m.path),
      ["/v2.KeyManagementService/Status", "/v2.KeyManagementService/Decrypt", "/v2.KeyManagementService/Encrypt"]
    )
    assert.sameMembers(
      Object.values(services.v1beta1).map((m) => m.path),
      ["/v1beta1.KeyManagementService/Version", "/v1beta1.KeyManagementService/Decrypt", "/v1beta1.KeyManagementService/Encrypt"]
    )
  })

  it("are loaded once: every caller shares the same definitions", () => {
    assert.strictEqual(kmsServices(), kmsServices())
    assert.strictEqual(kmsServices().v2, kmsServices().v2)
  })
})
