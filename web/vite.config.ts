/**
 * Builds the web app into dist/web, which the server serves at `/`. Hashed file names under
 * assets/ are cached for a year; each asset is also written gzipped and brotli-compressed so
 * the server sends the precompressed file instead of compressing on every request.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import react from '@vitejs/plugin-react';
import { defineConfig, type Plugin } from 'vite';

const webRoot = path.dirname(fileURLToPath(import.meta.url));
const compressible = /\.(js|css|html|svg|json|txt)$/;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/** Writes .gz and .br beside every compressible output file. */
function precompress(): Plugin {
  let outDir = '';
  return {
    name: 'stampede-precompress',
    apply: 'build',
    configResolved(config) {
      outDir = path.resolve(config.root, config.build.outDir);
    },
    closeBundle() {
      for (const file of walk(outDir).filter((f) => compressible.test(f))) {
        const content = readFileSync(file);
        if (content.length < 1024) continue;
        writeFileSync(`${file}.gz`, gzipSync(content, { level: 9 }));
        writeFileSync(`${file}.br`, brotliCompressSync(content));
      }
    },
  };
}

export default defineConfig({
  root: webRoot,
  plugins: [react(), precompress()],
  resolve: {
    alias: { '@server': path.resolve(webRoot, '../src') },
  },
  build: {
    outDir: path.resolve(webRoot, '../dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  worker: { format: 'es' },
  server: {
    // `npm run dev:web` next to `npm run dev`: the API stays on the server's port.
    proxy: Object.fromEntries(
      ['/api', '/openapi.json', '/docs', '/healthz', '/readyz', '/metrics']
        .map((prefix) => [prefix, 'http://127.0.0.1:3000']),
    ),
  },
});
