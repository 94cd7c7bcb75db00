// Cloud KMS resource names: a crypto key
// (projects/P/locations/L/keyRings/R/cryptoKeys/K) and one of its versions
// (…/cryptoKeyVersions/N), and the --key-suffix appended to v2 key_ids. The
// flags are checked against these; both backends and the key_id rules build
// on them.

const project = "[a-z0-9][a-z0-9.:-]{0,62}"
const location = "[a-z0-9][a-z0-9-]{0,62}"
const resourceId = "[A-Za-z0-9_-]{1,63}"
const cryptoKeyPattern = `projects/${project}/locations/${location}/keyRings/${resourceId}/cryptoKeys/${resourceId}`

const cryptoKeyName = new RegExp(`^${cryptoKeyPattern}$`)
const cryptoKeyVersionName = new RegExp(`^(${cryptoKeyPattern})/cryptoKeyVersions/([1-9][0-9]{0,17})$`)

/** A crypto key version: the key it belongs to and its number. */
export interface KeyVersion {
  readonly cryptoKey: string
  readonly version: number
}

export const isCryptoKeyName = (name: string): boolean => cryptoKeyName.test(name)

export const parseKeyVersionName = (name: string): KeyVersion | undefined => {
  const match = cryptoKeyVersionName.exec(name)
  if (match === null) return undefined
  const version = Number(match[2])
  return Number.isSafeInteger(version) ? { cryptoKey: match[1] ?? "", version } : undefined
}

export const keyVersionName = (key: KeyVersion): string => `${key.cryptoKey}/cryptoKeyVersions/${key.version}`

export const cryptoKeyNameExample = "projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key"

const keySuffixPattern = /^[A-Za-z0-9._-]{1,64}$/

/** A --key-suffix: 1-64 letters, digits, '.', '_' or '-' (no ':' or '/', so a key_id parses back). */
export const isKeySuffix = (suffix: string): boolean => keySuffixPattern.test(suffix)
