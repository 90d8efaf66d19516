export const STRATA_VERSION = '0.1.0';
