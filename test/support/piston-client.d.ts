/** piston-client (npm, 1.0.2) ships no types: what test/sandbox/piston-clients.test.ts calls of it. */
declare module 'piston-client' {
  interface PistonClientApi {
    runtimes(): Promise<unknown>;
    execute(language: string, code: string, config?: Record<string, unknown>): Promise<unknown>;
  }
  export function piston(opts?: { server?: string }): PistonClientApi;
  export default piston;
}
