/**
 * A data set that cannot be used as it is: an empty folder, a missing split, train/val classes that
 * differ. The message says what is wrong and what to do; the CLI prints it as one line.
 */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
