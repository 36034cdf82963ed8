/** A shape or stride for a one-line message: in full up to 8 dimensions, else its first 6 and its rank. */
export function formatDims(xs: readonly number[]): string {
  return xs.length <= 8 ? `[${xs.join(',')}]` : `[${xs.slice(0, 6).join(',')},... (${xs.length} dimensions)]`;
}
