// The local driver's `size` option: an xfs project quota on the volume's _data (see
// system/project-quota.ts for how and where it is possible).
export { applyProjectQuota, quotaSupported } from '../system/project-quota.js';
