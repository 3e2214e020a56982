// Pure state transitions of a feed: what a mark does to an item and to the
// counts. Shared by the optimistic updates and by the realtime `marked` events.
import type { FeedAction, FeedCounts, FeedItem, FeedStatus } from "./types.js";

export function applyAction(item: FeedItem, action: FeedAction, atMs: number): FeedItem {
  const next = { ...item };
  // Mirrors feed/mark.lua: read implies seen, interacted implies read.
  switch (action) {
    case "interacted":
      if (!next.interacted_at_ms) next.interacted_at_ms = atMs;
    // falls through
    case "read":
      if (!next.read_at_ms) next.read_at_ms = atMs;
    // falls through
    case "seen":
      if (!next.seen_at_ms) next.seen_at_ms = atMs;
      break;
    case "unseen":
      next.seen_at_ms = 0;
      break;
    case "unread":
      next.read_at_ms = 0;
      break;
    case "uninteracted":
      next.interacted_at_ms = 0;
      break;
    case "archived":
      if (!next.archived_at_ms) next.archived_at_ms = atMs;
      break;
    case "unarchived":
      next.archived_at_ms = 0;
      break;
  }
  return next;
}

/** What one item adds to the counts (archived items are outside them). */
function contribution(item: FeedItem): FeedCounts {
  if (item.archived_at_ms) return { unseen_count: 0, unread_count: 0, total_count: 0 };
  return { unseen_count: item.seen_at_ms ? 0 : 1, unread_count: item.read_at_ms ? 0 : 1, total_count: 1 };
}

export function countsDelta(before: FeedItem, after: FeedItem): FeedCounts {
  const a = contribution(before);
  const b = contribution(after);
  return {
    unseen_count: b.unseen_count - a.unseen_count,
    unread_count: b.unread_count - a.unread_count,
    total_count: b.total_count - a.total_count,
  };
}

/** a + b without clamping (deltas may be negative). */
export function sumDeltas(a: FeedCounts, b: FeedCounts): FeedCounts {
  return {
    unseen_count: a.unseen_count + b.unseen_count,
    unread_count: a.unread_count + b.unread_count,
    total_count: a.total_count + b.total_count,
  };
}

/** counts + sign * delta, never below zero. */
export function addCounts(counts: FeedCounts, delta: FeedCounts, sign = 1): FeedCounts {
  const clamp = (n: number) => Math.max(0, n);
  return {
    unseen_count: clamp(counts.unseen_count + sign * delta.unseen_count),
    unread_count: clamp(counts.unread_count + sign * delta.unread_count),
    total_count: clamp(counts.total_count + sign * delta.total_count),
  };
}

/** The counts after marking every item of the scope (not only the loaded ones). */
export function countsAfterMarkAll(counts: FeedCounts, action: FeedAction): FeedCounts {
  switch (action) {
    case "seen":
      return { ...counts, unseen_count: 0 };
    case "read":
    case "interacted":
      return { ...counts, unseen_count: 0, unread_count: 0 };
    case "unseen":
      return { ...counts, unseen_count: counts.total_count };
    case "unread":
      return { ...counts, unread_count: counts.total_count };
    case "archived":
      return { unseen_count: 0, unread_count: 0, total_count: 0 };
    default:
      return counts;
  }
}

/** Whether an item belongs in a list filtered by `status` (the proto's FeedStatusFilter). */
export function matchesStatus(item: FeedItem, status: FeedStatus): boolean {
  switch (status) {
    case "archived":
      return item.archived_at_ms > 0;
    case "unread":
      return !item.archived_at_ms && !item.read_at_ms;
    case "unseen":
      return !item.archived_at_ms && !item.seen_at_ms;
    case "read":
      return !item.archived_at_ms && item.read_at_ms > 0;
    default:
      return !item.archived_at_ms;
  }
}

/** Stream actions are the proto's enum names ("FEED_ACTION_READ"). */
export function actionFromEnum(name: unknown): FeedAction | undefined {
  if (typeof name !== "string") return undefined;
  const action = name.replace(/^FEED_ACTION_/, "").toLowerCase();
  const known: readonly string[] = ["seen", "unseen", "read", "unread", "interacted", "uninteracted", "archived", "unarchived"];
  return known.includes(action) ? (action as FeedAction) : undefined;
}
