/**
 * The confusion matrix as a text table for `evaluate`: one row per true class, one column per predicted
 * class, then the row's accuracy. Columns are as wide as the longest class name, so names print in full.
 */
export function confusionTable(classNames: string[], confusion: number[][], perClass: (number | null)[]): string[] {
  const corner = 'true \\ predicted';
  const first = Math.max(corner.length, ...classNames.map((c) => c.length)) + 2;
  const col = Math.max(6, ...classNames.map((c) => c.length), ...confusion.flat().map((v) => String(v).length)) + 2;
  const lines = [`${corner.padEnd(first)}${classNames.map((c) => c.padStart(col)).join('')}   accuracy`];
  confusion.forEach((row, i) => {
    const acc = perClass[i];
    lines.push(`${classNames[i].padEnd(first)}${row.map((v) => String(v).padStart(col)).join('')}   ${acc === null ? '-' : (acc * 100).toFixed(1) + '%'}`);
  });
  return lines;
}
