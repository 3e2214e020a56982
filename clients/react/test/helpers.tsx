import { FeedProvider, HeraldProvider } from "../src/index.js";
import type { ReactNode } from "react";
import { FakeGateway, json, wireCounts } from "../../client/test/fake-gateway.js";

export * from "../../client/test/fake-gateway.js";

export function listResponse(items: Record<string, unknown>[], counts = wireCounts(items.length, items.length, items.length)) {
  return json(200, { items, next_cursor: "", metadata: counts });
}

export function Providers({ gateway, children, tenant }: { gateway: FakeGateway; children: ReactNode; tenant?: string }) {
  return (
    <HeraldProvider baseUrl="http://gateway.test" publishableKey="pk_test" userToken="token-1" fetch={gateway.fetch}>
      <FeedProvider {...(tenant ? { tenant } : {})} reconnect={{ initialDelayMs: 5, maxDelayMs: 20, random: () => 0 }}>
        {children}
      </FeedProvider>
    </HeraldProvider>
  );
}
