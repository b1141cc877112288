import { createRequire } from 'node:module';
import { ConfigError } from '../../core/errors.js';

/**
 * WebGPU set-up for the GPU back end: Dawn's node bindings (the `webgpu` package) provide
 * `navigator.gpu`, and gpu.js runs in its explicit `webgpu` mode on top (kernels become WGSL
 * compute shaders over f32 storage buffers). Node has no `navigator.gpu`, and gpu.js asks for its
 * adapter with no options, so we probe the adapter ourselves (which Dawn back end, which feature
 * level) and hand gpu.js exactly that adapter through a one-method shim. Nothing here falls back
 * silently: either an adapter is found and described, or a GpuUnavailableError names every try.
 */

/** Dawn back ends gpmate tries. `vulkan`: NVIDIA/AMD/Intel drivers (and lavapipe); `opengles`: EGL, e.g. Mesa llvmpipe. */
export type GpuApi = 'vulkan' | 'opengles';
export const GPU_APIS = ['vulkan', 'opengles'] as const satisfies readonly GpuApi[];

export interface GpuDeviceOptions {
  /** Dawn back ends to try, in order (default: vulkan, then opengles). */
  readonly apis?: readonly GpuApi[];
  /** Refuse software renderers (llvmpipe, lavapipe, SwiftShader) instead of using them. Default false. */
  readonly hardwareOnly?: boolean;
  /** Use only an adapter whose name or description contains this text (case-insensitive), e.g. "H100". */
  readonly adapter?: string;
}

/** What was found: printed at start so the user sees which device computes the fitness. */
export interface GpuAdapterInfo {
  /** Device name as the driver reports it (e.g. "NVIDIA H100 80GB HBM3", "llvmpipe-llvm-15-0-6-256-bits-"). */
  readonly name: string;
  readonly vendor: string;
  readonly architecture: string;
  readonly description: string;
  /** The Dawn back end that answered. */
  readonly api: GpuApi;
  /** WebGPU feature level requested: `core`, or `compatibility` (needed on OpenGL ES). */
  readonly featureLevel: 'core' | 'compatibility';
  /** A CPU rasteriser (llvmpipe, lavapipe, SwiftShader) rather than a GPU. */
  readonly software: boolean;
}

/** No usable WebGPU adapter; the message lists what was tried. A ConfigError: the CLI prints one line, exit 2. */
export class GpuUnavailableError extends ConfigError {}

/** The slice of gpu.js's `GPU` class the evaluator uses (its bundled .d.ts predates webgpu mode). */
export interface GpuJsKernel {
  (...args: unknown[]): Promise<unknown>;
  readonly kernel?: { readonly constructor: { readonly mode?: string } };
  destroy(): void;
}
export interface GpuJs {
  readonly mode: string;
  createKernel(source: string, settings: Record<string, unknown>): GpuJsKernel;
  destroy(): Promise<void> | void;
}
interface GpuJsModule {
  GPU: new (settings: { mode: string }) => GpuJs;
  WebGPUContext: { destroy(): Promise<void> };
}

export interface GpuContext {
  readonly info: GpuAdapterInfo;
  /** A gpu.js instance in `webgpu` mode bound to the adapter above. */
  readonly gpu: GpuJs;
  /** Largest storage buffer one binding may hold, in bytes. */
  readonly maxStorageBytes: number;
  /** Gives the context back; the device is destroyed when the last holder releases it. */
  release(): Promise<void>;
}

const SOFTWARE = /llvmpipe|lavapipe|softpipe|swiftshader/i;
const require = createRequire(import.meta.url);

interface Held {
  info: GpuAdapterInfo;
  gpu: GpuJs;
  gpuJs: GpuJsModule;
  maxStorageBytes: number;
  refs: number;
  restoreNavigator: () => void;
  dawn: unknown;
}
let held: Held | undefined;
let opening: Promise<Held> | undefined;

/** One line describing an adapter, e.g. `llvmpipe-llvm-15 (vendor "mesa", opengles, compatibility, software renderer)`. */
export function describeAdapter(i: GpuAdapterInfo): string {
  const vendor = i.vendor ? `vendor "${i.vendor}", ` : '';
  const arch = i.architecture ? `${i.architecture}, ` : '';
  return `${i.name || i.description || 'unnamed adapter'} (${vendor}${arch}Dawn ${i.api} back end, ${i.featureLevel} feature level${i.software ? ', software renderer' : ''})`;
}

/**
 * Opens (or shares) the process's WebGPU adapter and a gpu.js instance in `webgpu` mode.
 * Tries each Dawn back end in `apis` order: Vulkan with the core feature level, OpenGL ES with the
 * compatibility level on EGL's surfaceless platform (Mesa llvmpipe on machines without a GPU).
 * gpu.js keeps one device per process, so a second call shares the first adapter when it satisfies
 * the options and fails otherwise.
 */
export async function acquireGpu(options: GpuDeviceOptions = {}): Promise<GpuContext> {
  const apis = options.apis ?? GPU_APIS;
  if (apis.length === 0) throw new ConfigError('option gpu apis: the list of WebGPU back ends is empty');
  for (const a of apis) {
    if (!(GPU_APIS as readonly string[]).includes(a)) {
      throw new ConfigError(`option gpu apis: unknown WebGPU back end "${String(a)}" (known: ${GPU_APIS.join(', ')})`);
    }
  }
  while (opening) await opening.catch(() => undefined);
  if (held) {
    if (!apis.includes(held.info.api) || (options.hardwareOnly && held.info.software) || !nameMatches(held.info, options.adapter)) {
      throw new GpuUnavailableError(
        `gpu back end: this process already holds ${describeAdapter(held.info)}, which the requested options exclude`,
      );
    }
  } else {
    opening = open(apis, options.hardwareOnly ?? false, options.adapter);
    try {
      held = await opening;
    } finally {
      opening = undefined;
    }
  }
  const h = held;
  h.refs++;
  let released = false;
  return {
    info: h.info,
    gpu: h.gpu,
    maxStorageBytes: h.maxStorageBytes,
    release: async () => {
      if (released) return;
      released = true;
      if (--h.refs > 0) return;
      if (held === h) held = undefined;
      await h.gpu.destroy();
      await h.gpuJs.WebGPUContext.destroy();
      // Dawn keeps node alive while its instance is referenced (node-webgpu README, "Lifetime").
      h.restoreNavigator();
      h.dawn = undefined;
    },
  };
}

function nameMatches(info: GpuAdapterInfo, wanted: string | undefined): boolean {
  return wanted === undefined || `${info.name} ${info.description}`.toLowerCase().includes(wanted.toLowerCase());
}

async function open(apis: readonly GpuApi[], hardwareOnly: boolean, wanted: string | undefined): Promise<Held> {
  let webgpu: { create(flags: string[]): GPU; globals: object };
  try {
    webgpu = (await import('webgpu')) as typeof webgpu;
  } catch (e) {
    throw new GpuUnavailableError(`gpu back end: the webgpu package (Dawn) could not be loaded: ${firstLine(e)}`);
  }
  Object.assign(globalThis, webgpu.globals);
  const tried: string[] = [];
  for (const api of apis) {
    const featureLevel = api === 'opengles' ? 'compatibility' : 'core';
    let what = `${api} (${featureLevel})`;
    if (api === 'opengles') {
      // Headless EGL: no X or Wayland display here; Mesa then renders with llvmpipe when no GPU driver is present.
      process.env['EGL_PLATFORM'] ??= 'surfaceless';
      what = `opengles (compatibility, EGL_PLATFORM=${process.env['EGL_PLATFORM']})`;
    }
    let dawn: GPU;
    let adapter: GPUAdapter | null;
    try {
      dawn = webgpu.create([`backend=${api}`]);
      adapter = await dawn.requestAdapter({ powerPreference: 'high-performance', featureLevel } as GPURequestAdapterOptions);
    } catch (e) {
      tried.push(`${what}: ${firstLine(e)}`);
      continue;
    }
    if (!adapter) {
      tried.push(`${what}: no adapter`);
      continue;
    }
    const ai = adapter.info;
    const info: GpuAdapterInfo = {
      name: ai.device || ai.description,
      vendor: ai.vendor,
      architecture: ai.architecture,
      description: ai.description,
      api,
      featureLevel,
      software: SOFTWARE.test(`${ai.device} ${ai.description}`) || (ai as { isFallbackAdapter?: boolean }).isFallbackAdapter === true,
    };
    if (!nameMatches(info, wanted)) {
      tried.push(`${what}: found ${info.name}, not "${wanted}"`);
      continue;
    }
    if (hardwareOnly && info.software) {
      tried.push(`${what}: ${info.name} is a software renderer (refused: hardware only)`);
      continue;
    }
    const restoreNavigator = installNavigator(dawn, adapter, featureLevel);
    const gpuJs = require('gpu.js') as GpuJsModule;
    const gpu = new gpuJs.GPU({ mode: 'webgpu' });
    if (gpu.mode !== 'webgpu') {
      restoreNavigator();
      throw new GpuUnavailableError(`gpu back end: gpu.js chose mode "${gpu.mode}" instead of webgpu`);
    }
    return {
      info,
      gpu,
      gpuJs,
      maxStorageBytes: Math.min(adapter.limits.maxStorageBufferBindingSize, adapter.limits.maxBufferSize),
      refs: 0,
      restoreNavigator,
      dawn,
    };
  }
  throw new GpuUnavailableError(`gpu back end: no WebGPU adapter found; tried ${tried.join('; ')}`);
}

/**
 * gpu.js calls `navigator.gpu.requestAdapter()` without options; the shim answers with the adapter
 * probed above (first call) or a fresh one with the same options (after a device loss).
 */
function installNavigator(dawn: GPU, adapter: GPUAdapter, featureLevel: string): () => void {
  let first: GPUAdapter | null = adapter;
  const options = { powerPreference: 'high-performance', featureLevel } as GPURequestAdapterOptions;
  const shim = {
    requestAdapter: async () => {
      const a = first ?? (await dawn.requestAdapter(options));
      first = null;
      return a;
    },
    getPreferredCanvasFormat: () => 'rgba8unorm',
    wgslLanguageFeatures: dawn.wgslLanguageFeatures,
  };
  const g = globalThis as { navigator?: object };
  const prev = g.navigator;
  if (prev && typeof prev === 'object') {
    // Node >= 21 has a navigator (without gpu): add the property to it rather than replace it.
    const before = Object.getOwnPropertyDescriptor(prev, 'gpu');
    Object.defineProperty(prev, 'gpu', { value: shim, configurable: true, writable: true });
    return () => {
      if (before) Object.defineProperty(prev, 'gpu', before);
      else delete (prev as { gpu?: unknown }).gpu;
    };
  }
  Object.defineProperty(globalThis, 'navigator', { value: { gpu: shim }, configurable: true, writable: true });
  return () => {
    delete g.navigator;
  };
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0] as string;
}
