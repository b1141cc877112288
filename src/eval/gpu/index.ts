export {
  acquireGpu,
  describeAdapter,
  GpuUnavailableError,
  GPU_APIS,
  type GpuApi,
  type GpuAdapterInfo,
  type GpuContext,
  type GpuDeviceOptions,
} from './device.js';
export { GpuEvaluator, type GpuEvaluatorOptions, type GpuEvaluatorStats } from './evaluator.js';
export { GPU_VALUE_BOUND, GPU_EXP_LIMIT, interpreterSource, reductionSource, type KernelShape } from './kernel.js';
export { agreementReport, checkTree, f32EmulatedRmse, maxIntermediate, type AgreementReport } from './agreement.js';
