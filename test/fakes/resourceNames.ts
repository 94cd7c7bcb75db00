// Cloud KMS resource names as the fake accepts them. Kept independent of the
// plugin's own parser on purpose: the fake must not share the plugin's bugs.

const cryptoKey = "projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+"
const cryptoKeyPattern = new RegExp(`^${cryptoKey}$`)
const versionPattern = new RegExp(`^(${cryptoKey})/cryptoKeyVersions/([1-9][0-9]{0,9})$`)

export type ResourceName =
  | { readonly kind: "cryptoKey"; readonly cryptoKey: string }
  | { readonly kind: "version"; readonly cryptoKey: string; readonly version: number }

export const isCryptoKeyName = (name: string): boolean => cryptoKeyPattern.test(name)

export const parseResourceName = (name: string): ResourceName | undefined => {
  if (cryptoKeyPattern.test(name)) return { kind: "cryptoKey", cryptoKey: name }
  const match = versionPattern.exec(name)
  if (match === null || match[1] === undefined) return undefined
  return { kind: "version", cryptoKey: match[1], version: Number(match[2]) }
}

export const versionName = (cryptoKey: string, version: number): string => `${cryptoKey}/cryptoKeyVersions/${version}`
