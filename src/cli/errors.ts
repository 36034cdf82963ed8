/**
 * Errors a user can act on. The CLI prints `googlenet: <message>` on one line and exits non-zero;
 * the stack is shown only with --debug.
 */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
  }
}
