// Vite configuration of the embedded UI. The Rust build script (crates/server/build.rs) sets
// DOPPEL_UI_OUT to a directory under Cargo's OUT_DIR; a plain `npm run build` writes ui/dist.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: {
    outDir: process.env.DOPPEL_UI_OUT ?? "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    reportCompressedSize: false,
  },
  server: {
    proxy: { "/api": "http://127.0.0.1:7700", "/healthz": "http://127.0.0.1:7700" },
  },
});
