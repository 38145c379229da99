/// <reference types="vitest/config" />
import { defineConfig } from 'vite';

// The daemon serves the build at /console/ (docs/console.md). Everything lands in
// dist/assets with a content hash in its name (cached as immutable), and nothing is
// inlined into index.html: the Content-Security-Policy allows no inline script or style.
export default defineConfig({
  base: '/console/',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: 'es2020',
  },
  test: {
    include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'e2e/*.test.mjs'],
    environment: 'node',
  },
});
