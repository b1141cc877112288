export { GPMATE_VERSION as VERSION } from '../core/version.js';
