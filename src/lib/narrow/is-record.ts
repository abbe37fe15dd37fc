/**
 * The one narrowing step every boundary starts with (JSON bodies and files, decoded protobuf,
 * nft JSON): a plain object whose keys can be read. Arrays are not records.
 */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
