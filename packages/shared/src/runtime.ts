/**
 * The language every sandbox runs. Both images (build-image.sh's debootstrap of bookworm, and the
 * Dockerfile's python:3.11-slim) carry this minor version; a pipeline test checks the running one.
 */
export const RUNTIME = { language: 'python', version: '3.11' } as const;
