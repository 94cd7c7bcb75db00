// The shapes @grpc/proto-loader hands us for the protos in proto/ (loaded with
// defaults: true, so absent scalars arrive as "" or empty buffers and absent
// maps as {}). The proto type guarantees these shapes; nothing to re-decode.

export namespace V2 {
  export type StatusRequest = Record<string, never>
  export interface StatusResponse {
    readonly version: string
    readonly healthz: string
    readonly keyId: string
  }
  export interface EncryptRequest {
    readonly plaintext: Buffer
    readonly uid: string
  }
  export interface EncryptResponse {
    readonly ciphertext: Uint8Array
    readonly keyId: string
    readonly annotations: Readonly<Record<string, Uint8Array>>
  }
  export interface DecryptRequest {
    readonly ciphertext: Buffer
    readonly uid: string
    readonly keyId: string
    readonly annotations: Readonly<Record<string, Buffer>>
  }
  export interface DecryptResponse {
    readonly plaintext: Uint8Array
  }
}

export namespace V1beta1 {
  export interface VersionRequest {
    readonly version: string
  }
  export interface VersionResponse {
    readonly version: string
    readonly runtimeName: string
    readonly runtimeVersion: string
  }
  export interface EncryptRequest {
    readonly version: string
    readonly plain: Buffer
  }
  export interface EncryptResponse {
    readonly cipher: Uint8Array
  }
  export interface DecryptRequest {
    readonly version: string
    readonly cipher: Buffer
  }
  export interface DecryptResponse {
    readonly plain: Uint8Array
  }
}
