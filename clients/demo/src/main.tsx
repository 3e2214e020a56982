import "@herald/react/styles.css";
import "./demo.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { readConfig } from "./config";

const { config, missing } = readConfig(window.location.search, import.meta.env as Record<string, string | undefined>);
const root = createRoot(document.getElementById("root")!);

if (missing.length > 0) {
  root.render(
    <main className="demo-main">
      <h1>Herald demo</h1>
      <div role="alert" data-testid="config-missing">
        Missing configuration: {missing.join(", ")}. Pass <code>?gateway=URL&amp;key=PUBLISHABLE_KEY&amp;token=USER_JWT</code> (optional{" "}
        <code>&amp;tenant=</code>, <code>&amp;feed=</code>) or set VITE_HERALD_GATEWAY_URL, VITE_HERALD_PUBLISHABLE_KEY and
        VITE_HERALD_USER_TOKEN.
      </div>
    </main>,
  );
} else {
  root.render(
    <StrictMode>
      <App config={config} />
    </StrictMode>,
  );
}
