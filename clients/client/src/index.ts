export { HeraldClient, type HeraldClientOptions, type FetchLike, type RequestOptions } from "./client.js";
export { Feed, type FeedOptions, type FeedState, type FeedListener, type RealtimeStatus } from "./feed.js";
export { HeraldError, type HeraldErrorCode } from "./errors.js";
export { backoffDelay, type BackoffOptions } from "./backoff.js";
export { readEventStream, type EventStreamHandlers, type EventSourceMessage } from "./sse.js";
export { applyAction, matchesStatus } from "./state.js";
export {
  FEED_ACTIONS,
  parseFeedItem,
  parseCounts,
  type FeedAction,
  type FeedBlock,
  type FeedButton,
  type FeedCounts,
  type FeedItem,
  type FeedStatus,
  type PreferenceEntry,
  type PreferenceOptions,
  type PreferenceSet,
  type PreferenceWorkflowOption,
} from "./types.js";
