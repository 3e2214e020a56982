import {
  HeraldClient,
  type Feed,
  type FeedAction,
  type FeedState,
  type FeedStatus,
  type FetchLike,
  type BackoffOptions,
} from "@herald/client";
import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";

const ClientContext = createContext<HeraldClient | null>(null);
// undefined: no FeedProvider above; null: the provider's feed is not created yet.
const FeedContext = createContext<Feed | null | undefined>(undefined);

export type HeraldProviderProps =
  | { client: HeraldClient; children?: ReactNode }
  | {
      client?: undefined;
      /** The gateway's URL, e.g. "https://herald.example.com". */
      baseUrl: string;
      publishableKey: string;
      /** The signed-in user's JWT; changing it keeps the client and its connections. */
      userToken: string;
      fetch?: FetchLike;
      children?: ReactNode;
    };

/** Makes a HeraldClient available to the components below (pass one, or its settings). */
export function HeraldProvider(props: HeraldProviderProps) {
  const given = props.client;
  const baseUrl = given ? "" : props.baseUrl;
  const publishableKey = given ? "" : props.publishableKey;
  const fetchImpl = given ? undefined : props.fetch;
  const userToken = given ? "" : props.userToken;
  // A new client only when the gateway or environment changes; a new token
  // goes to the existing client (its feeds keep their state and streams).
  const client = useMemo(
    () => given ?? new HeraldClient({ baseUrl, publishableKey, userToken, ...(fetchImpl ? { fetch: fetchImpl } : {}) }),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- userToken is applied below
    [given, baseUrl, publishableKey, fetchImpl],
  );
  useEffect(() => {
    if (!given && userToken && client.userToken !== userToken) client.setUserToken(userToken);
  }, [client, given, userToken]);
  return <ClientContext.Provider value={client}>{props.children}</ClientContext.Provider>;
}

export function useHeraldClient(): HeraldClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error("useHeraldClient: no <HeraldProvider> above this component");
  return client;
}

export interface FeedProviderProps {
  /** Default "main". */
  feed?: string;
  tenant?: string;
  status?: FeedStatus;
  pageSize?: number;
  /** Open the realtime connection (default true); it closes on unmount. */
  realtime?: boolean;
  reconnect?: BackoffOptions;
  children?: ReactNode;
}

/**
 * Opens one feed for the components below: fetches its first page and keeps
 * it live over the realtime connection; unmounting disposes it (aborts the
 * requests, closes the connection).
 */
export function FeedProvider({ feed: name = "main", tenant, status, pageSize, realtime = true, reconnect, children }: FeedProviderProps) {
  const client = useHeraldClient();
  const [feed, setFeed] = useState<Feed | null>(null);
  const backoffKey = reconnect ? `${reconnect.initialDelayMs}/${reconnect.maxDelayMs}` : "";
  useEffect(() => {
    // Created in the effect (not during render) so StrictMode's mount,
    // unmount, mount gets a fresh feed rather than a disposed one.
    const created = client.feed(name, {
      ...(tenant ? { tenant } : {}),
      ...(status ? { status } : {}),
      ...(pageSize ? { pageSize } : {}),
      ...(reconnect ? { reconnect } : {}),
    });
    setFeed(created);
    created.fetch().catch(() => undefined); // the error is in the feed's state
    if (realtime) created.connect();
    return () => {
      created.dispose();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- reconnect compared by value
  }, [client, name, tenant, status, pageSize, realtime, backoffKey]);
  return <FeedContext.Provider value={feed}>{children}</FeedContext.Provider>;
}

const PENDING_STATE: FeedState = {
  items: [],
  counts: { unseen_count: 0, unread_count: 0, total_count: 0 },
  loading: true,
  loaded: false,
  loadingMore: false,
  hasNextPage: false,
  error: null,
  realtime: "disconnected",
  realtimeError: null,
};

const noSubscription = () => () => undefined;
const pendingState = () => PENDING_STATE;

export interface UseFeedResult extends FeedState {
  /** null until the FeedProvider has created it (first render). */
  feed: Feed | null;
  fetch(): Promise<void>;
  fetchNextPage(): Promise<void>;
  markAs(action: FeedAction, ids: string[]): Promise<void>;
  markAllAs(action: FeedAction): Promise<void>;
}

/** The feed's state, re-rendering on every change (new items, marks, counts), plus its actions. */
export function useFeed(): UseFeedResult {
  const feed = useContext(FeedContext);
  if (feed === undefined) throw new Error("useFeed: no <FeedProvider> above this component");
  return useFeedOf(feed);
}

function useFeedOf(feed: Feed | null): UseFeedResult {
  // Stable per feed, so React subscribes once rather than on every render.
  const subscribe = useMemo(() => (feed ? (listener: () => void) => feed.subscribe(listener) : noSubscription), [feed]);
  const getSnapshot = useMemo(() => (feed ? () => feed.getState() : pendingState), [feed]);
  const state = useSyncExternalStore(subscribe, getSnapshot, getSnapshot);
  return useMemo(
    () => ({
      ...state,
      feed,
      fetch: () => (feed ? feed.fetch() : Promise.resolve()),
      fetchNextPage: () => (feed ? feed.fetchNextPage() : Promise.resolve()),
      markAs: (action: FeedAction, ids: string[]) => (feed ? feed.markAs(action, ids) : Promise.resolve()),
      markAllAs: (action: FeedAction) => (feed ? feed.markAllAs(action) : Promise.resolve()),
    }),
    [state, feed],
  );
}

/** The unread count of the FeedProvider's feed (0 until the first counts arrive). */
export function useUnreadCount(): number {
  return useFeed().counts.unread_count;
}

/** @internal Components that may stand outside a FeedProvider when given their data. */
export function useOptionalFeed(): UseFeedResult | null {
  const feed = useContext(FeedContext);
  const result = useFeedOf(feed ?? null);
  return feed === undefined ? null : result;
}
