export { HeraldProvider, FeedProvider, useFeed, useUnreadCount, useHeraldClient } from "./context.js";
export type { HeraldProviderProps, FeedProviderProps, UseFeedResult } from "./context.js";
export { NotificationBell, type NotificationBellProps } from "./NotificationBell.js";
export { NotificationFeedPopover, type NotificationFeedPopoverProps } from "./NotificationFeedPopover.js";
export { NotificationFeed, type NotificationFeedProps } from "./NotificationFeed.js";
export { PreferenceCenter, CHANNEL_TYPE_LABELS, type PreferenceCenterProps } from "./PreferenceCenter.js";
export { sanitizeHtml } from "./sanitize.js";
export { formatRelativeTime } from "./time.js";
