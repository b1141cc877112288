import { existsSync, readFileSync } from 'node:fs';

/** gpmate's version, from package.json (two levels up from src/cli, three from dist/src/cli). */
export const VERSION: string = (() => {
  const url = ['../../../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u));
  return (JSON.parse(readFileSync(url!, 'utf8')) as { version: string }).version;
})();
