export * from './status.js';
export * from './submission.js';
export * from './text.js';
