export * from './compare.js';
export * from './config.js';
export * from './errors.js';
export * from './job.js';
export * from './limits.js';
export * from './schemas.js';
export * from './status.js';
export * from './tenants.js';
