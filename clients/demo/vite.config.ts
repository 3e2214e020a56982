import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The workspace packages resolve to their built dist/ (`npm run dev` and
// `build` run `tsc -b` first), exactly as an app installing them would.
export default defineConfig({
  plugins: [react()],
  server: { host: "127.0.0.1", port: 5173 },
  preview: { host: "127.0.0.1", port: 4173 },
});
