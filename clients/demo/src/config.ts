export interface DemoConfig {
  gateway: string;
  key: string;
  token: string;
  tenant: string;
  feed: string;
}

/** URL parameters first (the browser test passes them), then VITE_HERALD_* from the environment. */
export function readConfig(search: string, env: Record<string, string | undefined>): { config: DemoConfig; missing: string[] } {
  const params = new URLSearchParams(search);
  const pick = (param: string, variable: string, fallback = "") => params.get(param) ?? env[variable] ?? fallback;
  const config: DemoConfig = {
    gateway: pick("gateway", "VITE_HERALD_GATEWAY_URL"),
    key: pick("key", "VITE_HERALD_PUBLISHABLE_KEY"),
    token: pick("token", "VITE_HERALD_USER_TOKEN"),
    tenant: pick("tenant", "VITE_HERALD_TENANT"),
    feed: pick("feed", "VITE_HERALD_FEED", "main") || "main",
  };
  const missing = (["gateway", "key", "token"] as const).filter((name) => !config[name]);
  return { config, missing };
}
