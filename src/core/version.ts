import { existsSync, readFileSync } from 'node:fs';

/** gpmate's version, from package.json (two levels up from src/core, three from dist/src/core). */
export const GPMATE_VERSION: string = (() => {
  const url = ['../../../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find((u) => existsSync(u));
  if (url === undefined) throw new Error('gpmate: package.json not found beside the installed files');
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
})();
