/** Exit codes and the errors a command reports as `reeldb: <message> (<code>)`. */

export const EXIT_OK = 0;
/** Damage found, or the command failed. */
export const EXIT_FAILURE = 1;
/** Bad usage, or the path is not a store this reeldb can read. */
export const EXIT_USAGE = 2;

/** An error the CLI reports as `reeldb: <message> (<code>)` with a chosen exit code. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode: number, readonly code: string) {
    super(message);
  }
}

export class UsageError extends CliError {
  constructor(message: string, readonly command?: string) {
    super(message, EXIT_USAGE, 'USAGE');
  }
}
