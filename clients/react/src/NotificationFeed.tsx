import type { FeedBlock, FeedButton, FeedItem } from "@herald/client";
import { useEffect, useMemo, useRef, useState, type KeyboardEvent, type MouseEvent, type ReactNode } from "react";
import { useFeed } from "./context.js";
import { sanitizeHtml } from "./sanitize.js";
import { formatRelativeTime } from "./time.js";

export interface NotificationFeedProps {
  /**
   * When items become read: "click" (default) when the reader activates one,
   * "open" every loaded unread item as soon as the feed is shown, "none" only
   * through the buttons.
   */
  markReadOn?: "click" | "open" | "none";
  /** Called when an item is activated (click or Enter), after marking it. */
  onItemClick?: (item: FeedItem, event: MouseEvent | KeyboardEvent) => void;
  /** Called for a button of a button_set block (the item is marked interacted). */
  onButtonClick?: (item: FeedItem, button: FeedButton) => void;
  /** Load the next page when the end of the list scrolls into view (IntersectionObserver). */
  infiniteScroll?: boolean;
  /** For the relative times; default: the browser's. */
  locale?: string;
  title?: string;
  emptyState?: ReactNode;
  className?: string;
}

function useNow(intervalMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(timer);
  }, [intervalMs]);
  return now;
}

function Block({ block, item, onButton }: { block: FeedBlock; item: FeedItem; onButton: (item: FeedItem, button: FeedButton) => void }) {
  const html = useMemo(() => (block.type === "markdown" ? sanitizeHtml(block.rendered) : ""), [block.type, block.rendered]);
  if (block.type === "button_set") {
    return (
      <div className="herald-item__buttons">
        {block.buttons.map((button) => (
          <button
            key={button.name}
            type="button"
            className="herald-item__button"
            onClick={(event) => {
              event.stopPropagation();
              onButton(item, button);
            }}
          >
            {button.label || button.name}
          </button>
        ))}
      </div>
    );
  }
  if (block.type === "markdown") {
    return <div className="herald-item__block" data-block={block.name} dangerouslySetInnerHTML={{ __html: html }} />;
  }
  return (
    <div className="herald-item__block" data-block={block.name}>
      {block.rendered}
    </div>
  );
}

/** The list of notifications with its states, marks and pagination. */
export function NotificationFeed({
  markReadOn = "click",
  onItemClick,
  onButtonClick,
  infiniteScroll = false,
  locale,
  title = "Notifications",
  emptyState,
  className,
}: NotificationFeedProps) {
  const feed = useFeed();
  const now = useNow(30000);
  const { items, counts, loading, loaded, loadingMore, hasNextPage, error } = feed;
  const quiet = (promise: Promise<void>) => {
    promise.catch(() => undefined); // failures are in the feed's state (shown below)
  };

  // markReadOn="open": what is unread when shown, and what arrives while
  // shown. Each item once: a refused mark rolls back to unread, and asking
  // again on every render would hammer a failing gateway.
  const markedOnOpen = useRef(new Set<string>());
  useEffect(() => {
    if (markReadOn !== "open" || !feed.feed) return;
    const unread = items.filter((item) => !item.read_at_ms && !markedOnOpen.current.has(item.id)).map((item) => item.id);
    for (const id of unread) markedOnOpen.current.add(id);
    if (unread.length > 0) quiet(feed.markAs("read", unread));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [markReadOn, feed.feed, items]);

  const sentinel = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!infiniteScroll || !hasNextPage || typeof IntersectionObserver === "undefined" || !sentinel.current) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) quiet(feed.fetchNextPage());
    });
    observer.observe(sentinel.current);
    return () => observer.disconnect();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [infiniteScroll, hasNextPage, feed.feed]);

  const activate = (item: FeedItem, event: MouseEvent | KeyboardEvent) => {
    if (markReadOn === "click" && !item.read_at_ms) quiet(feed.markAs("read", [item.id]));
    onItemClick?.(item, event);
  };
  const onButton = (item: FeedItem, button: FeedButton) => {
    quiet(feed.markAs("interacted", [item.id]));
    onButtonClick?.(item, button);
  };

  let body: ReactNode;
  if (!loaded && error) {
    body = (
      <div className="herald-feed__error" role="alert">
        <p>Couldn’t load notifications: {error.message}</p>
        <button type="button" className="herald-feed__retry" onClick={() => quiet(feed.fetch())}>
          Retry
        </button>
      </div>
    );
  } else if (!loaded) {
    body = (
      <div className="herald-feed__loading" role="status">
        Loading notifications…
      </div>
    );
  } else if (items.length === 0) {
    body = <div className="herald-feed__empty">{emptyState ?? "No notifications yet"}</div>;
  } else {
    body = (
      <div role="feed" aria-busy={loadingMore || loading} aria-label={`${title} list`} className="herald-feed__list">
        {items.map((item, index) => {
          const unread = !item.read_at_ms;
          const inserted = new Date(item.inserted_at_ms);
          return (
            <article
              key={item.id}
              className={`herald-item${unread ? " herald-item--unread" : ""}`}
              data-item-id={item.id}
              data-read={unread ? "false" : "true"}
              tabIndex={0}
              aria-posinset={index + 1}
              aria-setsize={hasNextPage ? -1 : items.length}
              aria-label={`${unread ? "Unread notification" : "Notification"}, ${formatRelativeTime(item.inserted_at_ms, now, locale)}`}
              onClick={(event) => activate(item, event)}
              onKeyDown={(event) => {
                if (event.target === event.currentTarget && (event.key === "Enter" || event.key === " ")) {
                  event.preventDefault();
                  activate(item, event);
                }
              }}
            >
              {unread && <span className="herald-item__dot" aria-hidden="true" />}
              <div className="herald-item__content">
                {item.blocks.map((block) => (
                  <Block key={block.name || block.type} block={block} item={item} onButton={onButton} />
                ))}
                <time className="herald-item__time" dateTime={inserted.toISOString()} title={inserted.toLocaleString(locale)}>
                  {formatRelativeTime(item.inserted_at_ms, now, locale)}
                </time>
              </div>
              <div className="herald-item__actions">
                {unread && (
                  <button
                    type="button"
                    className="herald-item__action"
                    aria-label="Mark as read"
                    title="Mark as read"
                    onClick={(event) => {
                      event.stopPropagation();
                      quiet(feed.markAs("read", [item.id]));
                    }}
                  >
                    ✓
                  </button>
                )}
                <button
                  type="button"
                  className="herald-item__action"
                  aria-label="Archive notification"
                  title="Archive"
                  onClick={(event) => {
                    event.stopPropagation();
                    quiet(feed.markAs("archived", [item.id]));
                  }}
                >
                  ×
                </button>
              </div>
            </article>
          );
        })}
      </div>
    );
  }

  return (
    <section className={["herald-feed", className].filter(Boolean).join(" ")} aria-label={title}>
      <header className="herald-feed__header">
        <h2 className="herald-feed__title">{title}</h2>
        <button
          type="button"
          className="herald-feed__mark-all"
          disabled={counts.unread_count === 0 || !loaded}
          onClick={() => quiet(feed.markAllAs("read"))}
        >
          Mark all as read
        </button>
      </header>
      {body}
      {loaded && error && (
        <div className="herald-feed__error herald-feed__error--inline" role="alert">
          {error.message}
        </div>
      )}
      {loaded && hasNextPage && (
        <div className="herald-feed__more" ref={sentinel}>
          <button type="button" className="herald-feed__load-more" disabled={loadingMore} onClick={() => quiet(feed.fetchNextPage())}>
            {loadingMore ? "Loading…" : "Load more"}
          </button>
        </div>
      )}
    </section>
  );
}
