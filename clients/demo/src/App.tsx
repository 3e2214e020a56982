import {
  FeedProvider,
  HeraldProvider,
  NotificationBell,
  NotificationFeedPopover,
  PreferenceCenter,
  useFeed,
} from "@herald/react";
import { useRef, useState } from "react";
import type { DemoConfig } from "./config";

function Inbox() {
  const [open, setOpen] = useState(false);
  const bell = useRef<HTMLButtonElement>(null);
  return (
    <>
      <NotificationBell ref={bell} open={open} onClick={() => setOpen((o) => !o)} />
      <NotificationFeedPopover open={open} onClose={() => setOpen(false)} anchorRef={bell} />
    </>
  );
}

// Lets a browser test wait for the stream before it triggers a workflow.
function RealtimeStatus() {
  const { realtime, realtimeError } = useFeed();
  return (
    <span className="demo-realtime" data-testid="realtime-status" data-realtime={realtime}>
      realtime: {realtime}
      {realtimeError ? ` (${realtimeError.code}: ${realtimeError.message})` : ""}
    </span>
  );
}

export function App({ config }: { config: DemoConfig }) {
  return (
    <HeraldProvider baseUrl={config.gateway} publishableKey={config.key} userToken={config.token}>
      <FeedProvider feed={config.feed} {...(config.tenant ? { tenant: config.tenant } : {})}>
        <header className="demo-header">
          <h1>Herald demo</h1>
          <RealtimeStatus />
          <Inbox />
        </header>
      </FeedProvider>
      <main className="demo-main">
        <PreferenceCenter {...(config.tenant ? { tenant: config.tenant } : {})} />
      </main>
    </HeraldProvider>
  );
}
