// Minimal typings for better-sqlite3 12 (no @types package is installed): only what src/study uses.
declare module 'better-sqlite3' {
  interface RunResult {
    changes: number;
    lastInsertRowid: number | bigint;
  }
  interface Statement<P extends unknown[] = unknown[]> {
    run(...params: P): RunResult;
    get(...params: P): unknown;
    all(...params: P): unknown[];
    iterate(...params: P): IterableIterator<unknown>;
  }
  interface Options {
    readonly?: boolean;
    fileMustExist?: boolean;
    timeout?: number;
  }
  interface Database {
    prepare<P extends unknown[] = unknown[]>(sql: string): Statement<P>;
    exec(sql: string): this;
    pragma(sql: string, options?: { simple?: boolean }): unknown;
    transaction<F extends (...args: never[]) => unknown>(fn: F): F & { immediate: F; exclusive: F };
    close(): this;
    readonly open: boolean;
    readonly inTransaction: boolean;
    readonly name: string;
  }
  interface DatabaseConstructor {
    new (filename: string, options?: Options): Database;
  }
  const Database: DatabaseConstructor;
  export default Database;
}
