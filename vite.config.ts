import { defineConfig } from 'vite'

// The editor's sources are in editor/web; the build goes to editor/dist, which
// the Go binary embeds (editor/static.go). JSX is compiled by esbuild alone:
// no React plugin (no fast refresh needed for a committed build).
export default defineConfig({
  root: 'editor/web',
  // Relative asset paths: the editor also works behind a proxy under a sub-path.
  base: './',
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: '../dist',
    emptyOutDir: true,
    target: 'es2022',
    cssCodeSplit: false,
    reportCompressedSize: false,
    modulePreload: { polyfill: false },
    rollupOptions: {
      onwarn(w, warn) {
        // @xyflow/react marks itself "use client" for React Server Components; meaningless here.
        if (w.code === 'MODULE_LEVEL_DIRECTIVE') return
        warn(w)
      },
    },
  },
  server: {
    // `npx vite` serves the sources and forwards the API to a running `runnel serve`.
    proxy: {
      '/flows': 'http://127.0.0.1:1880',
      '/nodes': 'http://127.0.0.1:1880',
      '/inject': 'http://127.0.0.1:1880',
      '/comms': { target: 'ws://127.0.0.1:1880', ws: true },
    },
  },
})
