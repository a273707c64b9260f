import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';

/** OpenAPI document built from the route schemas; served at /docs (UI) and /docs/json. */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        info: {
          title: 'sbx: run untrusted Python in gVisor sandboxes',
          version: '0.1.0',
          description:
            'Submit Python, get stdout, stderr and a verdict. Errors are `{ statusCode, code, message }` with a stable `code`.',
        },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: [{ bearer: [] }],
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'swagger' },
);
