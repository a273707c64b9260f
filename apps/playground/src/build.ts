/**
 * Builds the playground into dist/: the page's TypeScript and CSS bundled and minified by esbuild
 * under content-hashed names (so they can be cached for good), index.html pointing at them, and
 * gzip and brotli copies the API serves to browsers that take them. Nothing is fetched at run time.
 *
 *   node --import tsx apps/playground/src/build.ts [--if-changed]   (pnpm --filter @sbx/playground build)
 *
 * --if-changed (infra/deps.sh): does nothing when dist/ was built from the same sources and
 * dependencies, which a hash of them in dist/.source-hash tells.
 *
 * The new build is written beside dist/ and swapped in at the end: a running API never serves half
 * of one.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ASSETS_PATH, PLAYGROUND_DIST } from './index.js';

const PAGE = fileURLToPath(new URL('../page/', import.meta.url));

/** Browsers the bundle targets: what has shipped CompressionStream and `:scope` for two years. */
const TARGETS = ['chrome111', 'firefox113', 'safari16.4', 'edge111'];

export interface BuiltFile {
  name: string;
  bytes: number;
  gzipBytes: number;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const HASH_FILE = '.source-hash';

/** A hash of what the build reads: the page, this script, and the locked dependency versions. */
export async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  const page = (await readdir(PAGE)).sort().map((f) => join(PAGE, f));
  for (const file of [...page, fileURLToPath(import.meta.url), join(ROOT, 'pnpm-lock.yaml')]) {
    hash.update(`${relative(ROOT, file)}\0`);
    hash.update(await readFile(file));
  }
  return hash.digest('hex');
}

/** Whether dist/ holds a build of exactly these sources. */
export async function isUpToDate(dist = PLAYGROUND_DIST): Promise<boolean> {
  const built = await readFile(join(dist, HASH_FILE), 'utf8').catch(() => '');
  return built.trim() === (await sourceHash());
}

export async function buildPlayground(dist = PLAYGROUND_DIST): Promise<BuiltFile[]> {
  const hash = await sourceHash();
  const staging = `${dist.replace(/\/$/, '')}.tmp-${process.pid}`;
  const assets = join(staging, 'assets');
  await rm(staging, { recursive: true, force: true });
  await mkdir(assets, { recursive: true });
  const result = await build({
    entryPoints: { playground: join(PAGE, 'main.ts'), 'playground-style': join(PAGE, 'styles.css') },
    outdir: assets,
    entryNames: '[name]-[hash]',
    bundle: true,
    minify: true,
    format: 'esm',
    target: TARGETS,
    platform: 'browser',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const outputs = Object.keys(result.metafile.outputs).filter((f) => !f.endsWith('.map'));
  const js = outputs.find((f) => f.endsWith('.js'));
  const css = outputs.find((f) => f.endsWith('.css'));
  if (!js || !css) throw new Error(`esbuild wrote no script or stylesheet: ${outputs.join(', ')}`);
  const favicon = await copyHashed(join(PAGE, 'favicon.svg'), assets);
  const template = await readFile(join(PAGE, 'index.html'), 'utf8');
  const html = template
    .replace('{{js}}', ASSETS_PATH + basename(js))
    .replace('{{css}}', ASSETS_PATH + basename(css))
    .replace('{{favicon}}', ASSETS_PATH + favicon);
  if (html.includes('{{')) throw new Error('index.html has a placeholder the build does not fill');
  await writeFile(join(staging, 'index.html'), html);
  const files = [join(staging, 'index.html'), ...[js, css, favicon].map((f) => join(assets, basename(f)))];
  const built = await Promise.all(files.map((f) => precompress(f, staging)));
  await writeFile(join(staging, HASH_FILE), `${hash}\n`);
  await swapIn(staging, dist);
  return built;
}

async function copyHashed(source: string, dir: string): Promise<string> {
  const bytes = await readFile(source);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 10);
  const name = basename(source).replace(/(\.[^.]+)$/, `-${hash}$1`);
  await writeFile(join(dir, name), bytes);
  return name;
}

/** Writes file.gz and file.br beside the file (served by @fastify/static's preCompressed). */
async function precompress(file: string, root: string): Promise<BuiltFile> {
  const bytes = await readFile(file);
  const gzip = gzipSync(bytes, { level: 9 });
  const brotli = brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } });
  await writeFile(`${file}.gz`, gzip);
  await writeFile(`${file}.br`, brotli);
  return { name: relative(root, file), bytes: bytes.byteLength, gzipBytes: gzip.byteLength };
}

async function swapIn(staging: string, dist: string): Promise<void> {
  const target = dist.replace(/\/$/, '');
  const old = `${target}.old-${process.pid}`;
  await rename(target, old).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
  await rename(staging, target);
  await rm(old, { recursive: true, force: true });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = Date.now();
  if (process.argv.includes('--if-changed') && (await isUpToDate())) {
    console.log(`playground is up to date in ${PLAYGROUND_DIST}`);
    process.exit(0);
  }
  const built = await buildPlayground();
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  for (const f of built) console.log(`  ${f.name.padEnd(48)} ${kib(f.bytes).padStart(10)}  gzip ${kib(f.gzipBytes)}`);
  console.log(`playground built into ${PLAYGROUND_DIST} in ${Date.now() - started} ms`);
}
