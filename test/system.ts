/**
 * System programs that some tests need (not npm packages): each is detected once per test file. When
 * one is missing its tests are skipped with one line saying what is missing and how to install it;
 * with GPMATE_REQUIRE_SYSTEM=1 (set by .ci/run) a missing program fails the test file instead, so CI
 * proves every such test.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

interface Requirement {
  /** What the tests use, for the message. */
  readonly what: string;
  /** Why it is missing, or undefined when it is there. */
  readonly probe: () => string | undefined;
  /** The command that installs it on Debian. */
  readonly install: string;
}

function runs(cmd: string, args: string[]): boolean {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0;
}

/** A shared library the dynamic loader can find (ldconfig's cache, then the usual folders). */
function hasLibrary(name: string): boolean {
  const cache = spawnSync('ldconfig', ['-p'], { encoding: 'utf8' });
  if (cache.status === 0 && cache.stdout.includes(name)) return true;
  return ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib'].some((d) => existsSync(`${d}/${name}`));
}

const REQUIREMENTS = {
  chromium: {
    what: 'Chromium (/usr/bin/chromium)',
    probe: () => (existsSync('/usr/bin/chromium') ? undefined : '/usr/bin/chromium not found'),
    install: 'apt-get install chromium',
  },
  sympy: {
    what: 'python3 with SymPy',
    probe: () => (runs('python3', ['-c', 'import sympy']) ? undefined : '\'python3 -c "import sympy"\' failed'),
    install: 'apt-get install python3-sympy',
  },
  mesa: {
    what: 'a WebGPU adapter (Mesa EGL/GLES for llvmpipe, or a GPU driver)',
    probe: () =>
      hasLibrary('libEGL.so.1') && (hasLibrary('libEGL_mesa.so.0') || existsSync('/usr/share/vulkan/icd.d'))
        ? undefined
        : 'libEGL.so.1 with Mesa (libEGL_mesa.so.0) or a Vulkan driver not found',
    install: 'apt-get install libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri',
  },
  redis: {
    what: 'redis-server',
    probe: () => (runs('redis-server', ['--version']) ? undefined : 'redis-server not found on PATH'),
    install: 'apt-get install redis-server',
  },
} as const satisfies Record<string, Requirement>;

export type SystemProgram = keyof typeof REQUIREMENTS;

const seen = new Map<SystemProgram, boolean>();

/**
 * True when the program is there. Otherwise prints one line (the tests it skips, what is missing, the
 * install command) and returns false, or throws under GPMATE_REQUIRE_SYSTEM=1.
 */
export function hasSystem(program: SystemProgram, tests: string): boolean {
  const known = seen.get(program);
  if (known !== undefined) return known;
  const req: Requirement = REQUIREMENTS[program];
  const missing = req.probe();
  if (missing !== undefined) {
    const line = `${tests}: needs ${req.what}: ${missing}; install it with '${req.install}'`;
    if (process.env['GPMATE_REQUIRE_SYSTEM'] === '1') throw new Error(`${line} (GPMATE_REQUIRE_SYSTEM=1: a skip is a failure)`);
    process.stderr.write(`skipped: ${line}\n`);
  }
  seen.set(program, missing === undefined);
  return missing === undefined;
}
